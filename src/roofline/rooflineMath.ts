import { TokbenchError } from "../errors/TokbenchError.js";

/** Inputs of {@link decodeCeiling}. */
export interface DecodeCeilingInput {
  /** Weight bytes read per decoded token (dense + embedding row + active experts). */
  readonly weightBytesPerToken: number;
  /** KV-cache bytes of one cached token (K and V, all layers). */
  readonly kvBytesPerToken: number;
  /** Tokens already in the KV cache when the token is decoded. */
  readonly contextLength: number;
  /** Memory read bandwidth, bytes per second. */
  readonly bandwidthBytesPerSecond: number;
}

/** The memory-bound decode ceiling. */
export interface DecodeCeiling {
  /** Upper bound on single-sequence decode speed, tokens per second. */
  readonly tokens_per_second: number;
  /** Bytes read per token: weights + KV cache at this context. */
  readonly bytes_per_token: number;
  /** Lower bound on the time per token, milliseconds. */
  readonly ms_per_token: number;
}

function check(name: string, v: number, allowZero: boolean): void {
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `roofline: ${name} must be a ${allowZero ? "non-negative" : "positive"} number, got ${v}`,
    );
  }
}

/**
 * The fastest single-sequence decode the memory allows: each token must stream every active weight
 * and the whole KV cache through the memory bus once, so tok/s ≤ bandwidth / (weights + KV × context).
 * Exact for one sequence; batching amortises the weights and can exceed it in aggregate.
 */
export function decodeCeiling(input: DecodeCeilingInput): DecodeCeiling {
  check("weightBytesPerToken", input.weightBytesPerToken, false);
  check("kvBytesPerToken", input.kvBytesPerToken, true);
  check("contextLength", input.contextLength, true);
  check("bandwidthBytesPerSecond", input.bandwidthBytesPerSecond, false);
  const bytes = input.weightBytesPerToken + input.kvBytesPerToken * input.contextLength;
  const tps = input.bandwidthBytesPerSecond / bytes;
  return { tokens_per_second: tps, bytes_per_token: bytes, ms_per_token: 1000 / tps };
}

/** Inputs of {@link prefillCeiling}. */
export interface PrefillCeilingInput {
  /** Parameters each token is multiplied with (active parameters for MoE). */
  readonly activeParameters: number;
  /** Prompt length in tokens. */
  readonly promptLength: number;
  /**
   * Attention FLOPs per token per earlier position: 2 × layers × heads × (key_length + value_length)
   * (QKᵀ and the V product). Defaults to 0 (ignore attention).
   */
  readonly attentionFlopsPerPosition?: number;
  /** Sustained matrix-multiply throughput, FLOP per second. */
  readonly flopsPerSecond: number;
}

/** The compute-bound prefill ceiling. */
export interface PrefillCeiling {
  /** Upper bound on prompt processing speed, tokens per second. */
  readonly tokens_per_second: number;
  /** Average FLOPs per prompt token: 2 × active parameters + causal attention over half the prompt. */
  readonly flops_per_token: number;
}

/**
 * The fastest prefill the compute allows: a prompt is processed as one batch, so weights are read
 * once for all tokens and the limit is arithmetic. Each token costs a multiply-add (2 FLOPs) per
 * active parameter plus causal attention over, on average, half the prompt.
 */
export function prefillCeiling(input: PrefillCeilingInput): PrefillCeiling {
  check("activeParameters", input.activeParameters, false);
  check("promptLength", input.promptLength, true);
  check("flopsPerSecond", input.flopsPerSecond, false);
  const attn = input.attentionFlopsPerPosition ?? 0;
  check("attentionFlopsPerPosition", attn, true);
  const flops = 2 * input.activeParameters + attn * (input.promptLength / 2);
  return { tokens_per_second: input.flopsPerSecond / flops, flops_per_token: flops };
}

/** A measured rate against its ceiling. */
export interface CeilingEfficiency {
  /** measured / ceiling × 100. */
  readonly efficiency_pct: number;
  /**
   * True when the measurement beats the ceiling by more than the tolerance: physically impossible
   * for the stated model and bandwidth, so the measurement (or the inputs) is wrong. Models smaller
   * than the CPU's last-level cache are the honest exception: they are read from cache, not memory.
   */
  readonly above_ceiling: boolean;
}

/**
 * Efficiency of a measured rate against a ceiling. Tolerance is the fraction by which a
 * measurement may exceed the ceiling before it is flagged (probe noise). Defaults to 0.05.
 */
export function ceilingEfficiency(measured: number, ceiling: number, tolerance = 0.05): CeilingEfficiency {
  check("ceiling", ceiling, false);
  check("measured", measured, true);
  return { efficiency_pct: (measured / ceiling) * 100, above_ceiling: measured > ceiling * (1 + tolerance) };
}
