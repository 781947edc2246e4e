import type { LlamaContextSequence, Token } from "node-llama-cpp";

/** One engine call as it happened: a prompt batch or a decode step. Times are `performance.now()` ms. */
export interface EngineStep {
  kind: "prefill" | "decode";
  /** 0-based index among steps of its kind in this generation. */
  index: number;
  /** Tokens the call processed (prefill) or produced (decode: 1). */
  tokens: number;
  t_start_ms: number;
  t_end_ms: number;
  /** The generated token (decode steps, and the prefill step that produced the first token). */
  token: Token | null;
}

/** Options of {@link generateOnSequence}. */
export interface GenerateOptions {
  /** Tokens fed in one prefill call; the context's batch size. */
  chunk_size: number;
  /**
   * Tokens to generate. The first comes out of the last prefill call, each further one costs a
   * decode step. 0 processes the prompt without producing any token.
   */
  max_tokens: number;
  /** Keep going through end-of-generation tokens (llama.cpp `ignore_eos`). Defaults to false. */
  ignore_eos?: boolean;
  /** Called after each engine call, on the hot path: keep it cheap. */
  on_step?: (step: EngineStep) => void;
  /** Stops generation after the current step. */
  signal?: AbortSignal;
  /**
   * When set, nothing is sampled: wherever a token would be sampled, logits are still computed and
   * this function's token is taken instead, as llama-bench's tests do (they feed pseudo-random
   * tokens). Honoured by `DirectDecoder`; the sequence API always samples. Defaults to none.
   */
  next_token?: () => Token;
}

/** What a generation produced. */
export interface GenerationResult {
  /** Generated tokens, in order (an end-of-generation token is included when `ignore_eos`). */
  tokens: Token[];
  /** When the first prefill call started. */
  start_ms: number;
  /** When the last prefill call ended (= first token, when one was asked for). */
  prefill_end_ms: number;
  /** When the last step ended. */
  end_ms: number;
  /** Prefill calls made. */
  prefill_batches: number;
  /** Whether generation stopped on an end-of-generation token before `max_tokens`. */
  stopped_by_eog: boolean;
}

/**
 * Runs prompt processing then greedy generation on one sequence, timing every engine call.
 * The prompt is fed in chunks of `chunk_size`; all but the last are evaluated without output; the
 * last one computes logits and samples the first token. Sampling is greedy (temperature 0), so a run
 * is reproducible. The sequence is not cleared first: callers decide what stays in the KV cache.
 */
export async function generateOnSequence(
  sequence: LlamaContextSequence,
  prompt: readonly Token[],
  options: GenerateOptions,
): Promise<GenerationResult> {
  const chunk = Math.max(1, options.chunk_size);
  const onStep = options.on_step;
  const out: Token[] = [];
  const start = performance.now();
  let t = start;
  let prefillIndex = 0;
  const lastChunkStart = prompt.length === 0 ? 0 : Math.floor((prompt.length - 1) / chunk) * chunk;
  const silentEnd = options.max_tokens > 0 ? lastChunkStart : prompt.length;
  for (let i = 0; i < silentEnd; i += chunk) {
    const part = prompt.slice(i, Math.min(i + chunk, silentEnd));
    await sequence.evaluateWithoutGeneratingNewTokens(part as Token[]);
    const now = performance.now();
    // Counted outside the call: an optional call skips evaluating its arguments.
    const index = prefillIndex++;
    onStep?.({
      kind: "prefill",
      index,
      tokens: part.length,
      t_start_ms: t,
      t_end_ms: now,
      token: null,
    });
    t = now;
  }
  let prefillEnd = t;
  let stoppedByEog = false;
  if (options.max_tokens > 0 && prompt.length > 0) {
    const last = prompt.slice(lastChunkStart) as Token[];
    const iterator = sequence.evaluate(last, { temperature: 0, yieldEogToken: options.ignore_eos === true });
    try {
      while (out.length < options.max_tokens) {
        const next = await iterator.next();
        const now = performance.now();
        if (next.done === true) {
          stoppedByEog = true;
          break;
        }
        const token = next.value;
        out.push(token);
        if (out.length === 1) {
          prefillEnd = now;
          const index = prefillIndex++;
          onStep?.({
            kind: "prefill",
            index,
            tokens: last.length,
            t_start_ms: t,
            t_end_ms: now,
            token,
          });
        } else {
          onStep?.({ kind: "decode", index: out.length - 2, tokens: 1, t_start_ms: t, t_end_ms: now, token });
        }
        t = now;
        if (options.signal?.aborted === true) break;
      }
    } finally {
      await iterator.return();
    }
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
