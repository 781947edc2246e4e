import type { LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { GenerateOptions, GenerationResult } from "./generateOnSequence.js";

/**
 * The parts of node-llama-cpp's native context binding that {@link DirectDecoder} calls. They are
 * internal to node-llama-cpp (pinned to an exact version in package.json), so {@link DirectDecoder.open}
 * checks each one is there and falls back to the public API when one is missing.
 */
interface NativeContext {
  initBatch(size: number): void;
  addToBatch(
    sequenceId: number,
    firstPosition: number,
    tokens: Uint32Array,
    logitIndexes: Uint32Array,
  ): Uint32Array;
  decodeBatch(): Promise<void>;
  sampleToken(batchLogitIndex: number, sampler: NativeSampler): Promise<number | number[]>;
  disposeSequence(sequenceId: number): void;
  setThreads?(threads: number): void;
}

interface NativeSampler {
  applyConfig(config: { temperature: number }): void;
  dispose(): void;
}

type NativeSamplerClass = new (model: unknown) => NativeSampler;

const NO_LOGITS = new Uint32Array(0);

/**
 * A single-sequence decode loop on node-llama-cpp's native context, with none of its per-call
 * JavaScript machinery: one `llama_decode` per batch and one greedy sample per generated token,
 * each a single hop to a libuv thread, exactly the work llama-bench's loop does plus the sample.
 *
 * Why: `sequence.controlledEvaluate()` / `sequence.evaluate()` add locks, a batch scheduler, token
 * meters and (controlledEvaluate) a new native sampler with a vocabulary-sized candidate buffer
 * per call. On a 0.5B model at 1 thread that was 1-3 ms of a 25 ms token, 5-12 % of decode speed,
 * which is measurement overhead, not engine speed (docs/engine-speed.md).
 *
 * The decoder owns sequence 0 of a context created with one sequence: do not use the context's
 * public sequence API on the same context.
 */
export class DirectDecoder {
  private readonly native: NativeContext;
  private readonly sampler: NativeSampler;
  private readonly model: LlamaModel;
  private readonly batchSize: number;
  private position = 0;
  /** Batch index of the token whose logits the last decode computed; -1 when it computed none. */
  private logitIndex = -1;
  private disposed = false;

  private constructor(native: NativeContext, sampler: NativeSampler, model: LlamaModel, batchSize: number) {
    this.native = native;
    this.sampler = sampler;
    this.model = model;
    this.batchSize = batchSize;
  }

  /**
   * Opens a decoder on `context` (created from `model` with `sequences: 1`), or returns null when
   * the installed node-llama-cpp does not have the native calls it needs.
   */
  static open(context: LlamaContext, model: LlamaModel, threads: number): DirectDecoder | null {
    const native = (context as unknown as { _ctx?: Partial<NativeContext> })._ctx;
    const internals = model as unknown as {
      _model?: unknown;
      _llama?: { _bindings?: { AddonSampler?: NativeSamplerClass } };
    };
    const Sampler = internals._llama?._bindings?.AddonSampler;
    if (
      native === undefined ||
      typeof native.initBatch !== "function" ||
      typeof native.addToBatch !== "function" ||
      typeof native.decodeBatch !== "function" ||
      typeof native.sampleToken !== "function" ||
      typeof native.disposeSequence !== "function" ||
      typeof Sampler !== "function" ||
      internals._model === undefined ||
      context.totalSequences !== 1
    ) {
      return null;
    }
    const sampler = new Sampler(internals._model);
    sampler.applyConfig({ temperature: 0 });
    // node-llama-cpp sets the thread count before each of its own batches; this loop does it once.
    native.setThreads?.(threads);
    native.disposeSequence(0);
    return new DirectDecoder(native as NativeContext, sampler, model, context.batchSize);
  }

  /** Empties the KV cache of the sequence: the next generation starts at position 0. */
  clear(): void {
    this.native.disposeSequence(0);
    this.position = 0;
    this.logitIndex = -1;
  }

  /** Releases the native sampler; the context stays the caller's. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.sampler.dispose();
  }

  /**
   * Same contract as `generateOnSequence`: the prompt in batches of `chunk_size` (capped at the
   * context's batch size), the last batch computing logits for its last token and sampling the first
   * generated token, then one decode and one greedy sample per further token (with `next_token`, no
   * sample: that function's token is fed instead). The KV cache is not cleared first.
   */
  async generate(prompt: readonly Token[], options: GenerateOptions): Promise<GenerationResult> {
    if (this.disposed) throw new TokbenchError("INTERNAL", "the direct decoder is disposed");
    const chunk = Math.max(1, Math.min(options.chunk_size, this.batchSize));
    const onStep = options.on_step;
    const out: Token[] = [];
    const start = performance.now();
    let t = start;
    let prefillIndex = 0;
    const wantTokens = options.max_tokens > 0 && prompt.length > 0;
    const pick = options.next_token;
    for (let i = 0; i < prompt.length; i += chunk) {
      const part = prompt.slice(i, Math.min(i + chunk, prompt.length));
      const last = i + part.length === prompt.length;
      await this.decode(part, wantTokens && last);
      let token: Token | null = null;
      if (wantTokens && last) {
        token = pick === undefined ? await this.sample() : pick();
        out.push(token);
      }
      const now = performance.now();
      // Counted outside the call: an optional call skips evaluating its arguments.
      const index = prefillIndex++;
      const produced = pick === undefined ? token : null;
      onStep?.({
        kind: "prefill",
        index,
        tokens: part.length,
        t_start_ms: t,
        t_end_ms: now,
        token: produced,
      });
      t = now;
    }
    const prefillEnd = t;
    let stoppedByEog = false;
    if (
      out.length === 1 &&
      pick === undefined &&
      options.ignore_eos !== true &&
      this.model.isEogToken(out[0])
    ) {
      out.pop();
      stoppedByEog = true;
    }
    while (!stoppedByEog && out.length > 0 && out.length < options.max_tokens) {
      if (options.signal?.aborted === true) break;
      await this.decode([out[out.length - 1] as Token], true);
      const token = pick === undefined ? await this.sample() : pick();
      const now = performance.now();
      if (pick === undefined && options.ignore_eos !== true && this.model.isEogToken(token)) {
        stoppedByEog = true;
        break;
      }
      out.push(token);
      const produced = pick === undefined ? token : null;
      onStep?.({
        kind: "decode",
        index: out.length - 2,
        tokens: 1,
        t_start_ms: t,
        t_end_ms: now,
        token: produced,
      });
      t = now;
    }
    return {
      tokens: out,
      start_ms: start,
      prefill_end_ms: prefillEnd,
      end_ms: t,
      prefill_batches: prefillIndex,
      stopped_by_eog: stoppedByEog,
    };
  }

  /** One `llama_decode` of `tokens` at the next positions; logits only for the last when asked. */
  async decode(tokens: readonly Token[], logitsForLast: boolean): Promise<void> {
    this.native.initBatch(tokens.length);
    const logitIndexes = this.native.addToBatch(
      0,
      this.position,
      Uint32Array.from(tokens),
      logitsForLast ? Uint32Array.of(tokens.length - 1) : NO_LOGITS,
    );
    this.logitIndex = logitIndexes[0] ?? -1;
    try {
      await this.native.decodeBatch();
    } catch (error) {
      throw new TokbenchError("ENGINE_DECODE_FAILED", `llama_decode failed at position ${this.position}`, {
        context: { position: this.position, tokens: tokens.length },
        cause: error,
      });
    }
    this.position += tokens.length;
  }

  /** Greedy sample from the logits the last decode computed. */
  async sample(): Promise<Token> {
    if (this.logitIndex < 0) {
      throw new TokbenchError("INTERNAL", "sample() after a decode that computed no logits");
    }
    const result = await this.native.sampleToken(this.logitIndex, this.sampler);
    const token = Array.isArray(result) ? result[0] : result;
    if (typeof token !== "number" || token < 0) {
      throw new TokbenchError("ENGINE_DECODE_FAILED", "the engine produced no token", {
        context: { position: this.position },
      });
    }
    return token as Token;
  }
}
