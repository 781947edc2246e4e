import type { LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import {
  createEngineContext,
  type EngineContextSettings,
  effectiveBatchSize,
} from "../../engine/createEngineContext.js";
import { DirectDecoder } from "../../engine/DirectDecoder.js";
import { type EngineBinding, firstLine } from "../../engine/EngineBinding.js";
import {
  type GenerateOptions,
  type GenerationResult,
  generateOnSequence,
} from "../../engine/generateOnSequence.js";
import type { EnginePerf } from "../../engine/parseEnginePerf.js";
import { isTokbenchError } from "../../errors/TokbenchError.js";
import type { ObservedChunk, RequestObservation } from "../../records/RequestObservation.js";
import type { TraceWriter } from "../../trace/TraceWriter.js";
import type { SendOptions, Target, WorkloadRequest } from "../Target.js";

/** Options of {@link EmbeddedTarget.create}. */
export interface EmbeddedTargetOptions {
  binding: EngineBinding;
  /** A loaded model; the target does not own it and never disposes it. */
  model: LlamaModel;
  /** Context settings; `parallel` is how many requests run at once (one sequence each). */
  context: EngineContextSettings;
  /** Per-request trace; null for none. Defaults to null. */
  trace?: TraceWriter | null;
}

/**
 * The embedded llama.cpp engine as a {@link Target}: requests run in-process on a context with one
 * sequence per parallel slot, and produce the same {@link RequestObservation} as the HTTP targets.
 *
 * - `sent_at_ms`: the start of prompt evaluation (after a slot was free and the prompt tokenized);
 * - one chunk per generated token, `tokens: 1`, `read_index` = the engine step that produced it;
 * - `usage`: exact prompt and output token counts; no prefix cache (each sequence is cleared);
 * - `server_timings` (source `engine`): llama.cpp's own counters for the request, when one request
 *   runs at a time (counters are per context, so with parallel slots they would mix requests).
 *
 * Sampling is greedy, so a run is reproducible; `force_output_length` keeps generating through
 * end-of-generation tokens, as `ignore_eos` does in llama-server.
 */
export class EmbeddedTarget implements Target {
  readonly kind = "embedded";
  private readonly free: Slot[] = [];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private readonly decoder: DirectDecoder | null;
  private requestCounter = 0;
  private closed = false;

  private constructor(
    private readonly binding: EngineBinding,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly settings: EngineContextSettings,
    private readonly trace: TraceWriter | null,
  ) {
    // One request at a time: the direct loop, without node-llama-cpp's per-token bookkeeping (see
    // DirectDecoder). Several: one sequence each, which node-llama-cpp batches together.
    this.decoder = settings.parallel === 1 ? DirectDecoder.open(context, model, settings.threads) : null;
    const decoder = this.decoder;
    if (decoder !== null) {
      this.free.push({
        index: 0,
        clear: async () => decoder.clear(),
        generate: (prompt, options) => decoder.generate(prompt, options),
      });
    } else {
      for (let i = 0; i < settings.parallel; i++) {
        const sequence = context.getSequence();
        this.free.push({
          index: i,
          clear: () => sequence.clearHistory(),
          generate: (prompt, options) => generateOnSequence(sequence, prompt, options),
        });
      }
    }
  }

  /** Creates the context and its sequences. Throws ENGINE_OUT_OF_MEMORY / ENGINE_LOAD_FAILED. */
  static async create(options: EmbeddedTargetOptions): Promise<EmbeddedTarget> {
    const context = await createEngineContext(options.binding, options.model, options.context);
    return new EmbeddedTarget(
      options.binding,
      options.model,
      context,
      options.context,
      options.trace ?? null,
    );
  }

  /** KV cells per sequence: the longest prompt + output a request can have. */
  get contextSize(): number {
    return this.context.contextSize;
  }

  async countTokens(text: string): Promise<number | null> {
    return this.model.tokenize(text, false).length;
  }

  async send(request: WorkloadRequest, options: SendOptions): Promise<RequestObservation> {
    const slot = await this.acquire();
    const id = `req${this.requestCounter++}`;
    const chunks: ObservedChunk[] = [];
    const obs: RequestObservation = {
      planned_at_ms: options.planned_at_ms,
      sent_at_ms: performance.now(),
      headers_at_ms: null,
      end_at_ms: 0,
      status: null,
      chunks,
      empty_chunks: 0,
      comments: 0,
      usage: null,
      server_timings: null,
      prompt_tokens_client: request.prompt_tokens,
      output_tokens_tokenizer: null,
      error: null,
    };
    const solo = this.settings.parallel === 1;
    let promptLength = 0;
    try {
      await slot.clear();
      const prompt = this.model.tokenize(request.prompt, false);
      promptLength = prompt.length;
      if (prompt.length === 0) throw new Error("the prompt is empty after tokenization");
      if (prompt.length + request.max_tokens > this.context.contextSize) {
        throw new Error(
          `prompt (${prompt.length} tokens) + max_tokens (${request.max_tokens}) exceed the context size ${this.context.contextSize}`,
        );
      }
      if (solo) await this.binding.readPerf(this.context); // reset: the counters then cover this request only
      const produced: Token[] = [];
      obs.sent_at_ms = performance.now();
      this.trace?.generationStart(
        {
          id,
          sequence: slot.index,
          prompt_tokens: prompt.length,
          max_tokens: request.max_tokens,
          n_depth: 0,
          settings: { request: true, force_output_length: request.force_output_length },
        },
        obs.sent_at_ms,
      );
      let step = 0;
      const result = await slot.generate(prompt, {
        chunk_size: effectiveBatchSize(this.settings),
        max_tokens: request.max_tokens,
        ignore_eos: request.force_output_length,
        signal: options.signal,
        on_step: (s) => {
          if (this.trace?.recordsSteps === true) this.trace.step(id, s);
          if (s.token === null) return;
          produced.push(s.token);
          chunks.push({ at_ms: s.t_end_ms, read_index: step++, tokens: 1, chars: 0 });
        },
      });
      // Text is measured after generation so detokenizing costs nothing between steps; the
      // previous tokens are passed so multi-byte characters and leading spaces come out right.
      produced.forEach((token, i) => {
        const chunk = chunks[i];
        if (chunk !== undefined)
          chunk.chars = this.model.detokenize([token], false, produced.slice(Math.max(0, i - 8), i)).length;
      });
      obs.end_at_ms = result.tokens.length > 0 ? result.end_ms : performance.now();
      obs.usage = {
        prompt_tokens: prompt.length,
        completion_tokens: result.tokens.length,
        cached_prompt_tokens: 0,
      };
      const perf = solo ? await this.binding.readPerf(this.context) : null;
      if (perf !== null) obs.server_timings = engineTimings(perf);
      if (
        options.signal?.aborted === true &&
        result.tokens.length < request.max_tokens &&
        !result.stopped_by_eog
      ) {
        obs.error = {
          code: "REQUEST_STREAM_CUT",
          message: "the run was stopped during generation",
          status: null,
        };
      }
      this.trace?.generationEnd(
        {
          id,
          prompt_tokens: prompt.length,
          output_tokens: result.tokens.length,
          prefill_batches: result.prefill_batches,
          ttft_ms: result.tokens.length > 0 ? result.prefill_end_ms - result.start_ms : null,
          decode_ms: result.tokens.length > 1 ? result.end_ms - result.prefill_end_ms : null,
          total_ms: obs.end_at_ms - obs.sent_at_ms,
          engine: perf,
          error: null,
        },
        obs.end_at_ms,
      );
    } catch (error) {
      obs.end_at_ms = performance.now();
      const message = isTokbenchError(error) ? error.message : firstLine(error);
      obs.error = { code: "REQUEST_ENGINE_FAILED", message: `embedded engine: ${message}`, status: null };
      this.trace?.generationEnd(
        {
          id,
          prompt_tokens: promptLength,
          output_tokens: chunks.length,
          prefill_batches: 0,
          ttft_ms: null,
          decode_ms: null,
          total_ms: obs.end_at_ms - obs.sent_at_ms,
          engine: null,
          error: obs.error.message,
        },
        obs.end_at_ms,
      );
    } finally {
      this.release(slot);
    }
    return obs;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.decoder?.dispose();
    await this.context.dispose();
  }

  private acquire(): Promise<Slot> {
    const slot = this.free.pop();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next !== undefined) next(slot);
    else this.free.push(slot);
  }
}

/** Where one request runs: the direct decoder, or one sequence of the shared context. */
interface Slot {
  index: number;
  clear(): Promise<unknown>;
  generate(prompt: readonly Token[], options: GenerateOptions): Promise<GenerationResult>;
}

/**
 * Maps llama.cpp's counters of one request to the normalised server timings. The first output token
 * comes out of the last prompt call, so `eval` covers the tokens after it: `output_tokens` is the
 * decode steps, and output_tokens / decode_ms is comparable with the client decode rate.
 */
function engineTimings(perf: EnginePerf): RequestObservation["server_timings"] {
  return {
    source: "engine",
    prompt_tokens: perf.prompt_tokens,
    prompt_ms: perf.prompt_ms,
    output_tokens: perf.eval_runs,
    decode_ms: perf.eval_ms,
    cached_tokens: 0,
    load_ms: null,
  };
}
