import type { ModelInspection } from "../gguf/inspectModel.js";
import { decodeCeiling, prefillCeiling } from "./rooflineMath.js";

/** Options of {@link modelRoofline}. */
export interface ModelRooflineOptions {
  /** Tokens in the KV cache for the decode ceiling. Defaults to the inspection's KV context length. */
  readonly contextLength?: number;
  /** Prompt length for the prefill ceiling. Defaults to 512. */
  readonly promptLength?: number;
  /** Sustained FLOP/s for the prefill ceiling; without it the prefill ceiling is null. Defaults to none. */
  readonly flopsPerSecond?: number;
}

/** The speed limits of one model on one machine. */
export interface ModelRoofline {
  readonly bandwidth_bytes_per_second: number;
  /** Weight bytes per decoded token. */
  readonly weight_bytes_per_token: number;
  readonly kv_bytes_per_token: number;
  readonly context_length: number;
  /** Decode ceiling with an empty KV cache (weights only). */
  readonly decode_tps_empty_context: number;
  /** Decode ceiling with `context_length` tokens cached. */
  readonly decode_tps_at_context: number;
  readonly prompt_length: number;
  readonly flops_per_second: number | null;
  /** Compute-bound prefill ceiling; null without a FLOP/s figure. */
  readonly prefill_tps: number | null;
  readonly prefill_flops_per_token: number;
}

/**
 * Decode and prefill ceilings of an inspected model for a bandwidth (and optionally compute) figure.
 * Attention FLOPs use the inspected layers, heads and key/value lengths.
 */
export function modelRoofline(
  model: ModelInspection,
  bandwidthBytesPerSecond: number,
  options: ModelRooflineOptions = {},
): ModelRoofline {
  const ctx = options.contextLength ?? model.kv_cache.context_length;
  const weights = model.bytes_per_token.total_bytes;
  const kv = model.kv_cache.bytes_per_token;
  const empty = decodeCeiling({
    weightBytesPerToken: weights,
    kvBytesPerToken: kv,
    contextLength: 0,
    bandwidthBytesPerSecond,
  });
  const full = decodeCeiling({
    weightBytesPerToken: weights,
    kvBytesPerToken: kv,
    contextLength: ctx,
    bandwidthBytesPerSecond,
  });
  const hp = model.hyperparameters;
  const headDim = hp.embedding_length !== null && hp.head_count ? hp.embedding_length / hp.head_count : 0;
  const attentionFlopsPerPosition =
    2 *
    (hp.block_count ?? 0) *
    (hp.head_count ?? 0) *
    ((hp.key_length ?? headDim) + (hp.value_length ?? headDim));
  const promptLength = options.promptLength ?? 512;
  const flops = options.flopsPerSecond ?? null;
  const prefill = prefillCeiling({
    activeParameters: model.bytes_per_token.active_parameters,
    promptLength,
    attentionFlopsPerPosition,
    flopsPerSecond: flops ?? 1,
  });
  return {
    bandwidth_bytes_per_second: bandwidthBytesPerSecond,
    weight_bytes_per_token: weights,
    kv_bytes_per_token: kv,
    context_length: ctx,
    decode_tps_empty_context: empty.tokens_per_second,
    decode_tps_at_context: full.tokens_per_second,
    prompt_length: promptLength,
    flops_per_second: flops,
    prefill_tps: flops === null ? null : prefill.tokens_per_second,
    prefill_flops_per_token: prefill.flops_per_token,
  };
}
