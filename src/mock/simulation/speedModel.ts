import { KV_TYPE_BYTES_VS_F16, type SimKvType, type SimulationConfig } from "./SimulationConfig.js";

/**
 * What one iteration of the simulated server's main loop computes, like one `llama_decode` call of
 * llama-server: one token for each sequence that is generating, plus chunks of the prompts being
 * processed, up to the logical batch.
 */
export interface IterationWork {
  /** For each generating sequence, the tokens already in its KV cache (its context length). */
  decodeContexts: readonly number[];
  /** Prompt chunks: `tokens` of one sequence's prompt, the first at position `start`. */
  prefill: readonly { start: number; tokens: number }[];
  /** Sequences that sample a token at the end of the iteration (generating + prompts completed). */
  sampled: number;
}

/** The constants a configuration resolves to, for docs, logs and tests. */
export interface SpeedConstants {
  /** Fixed cost of an iteration (graph build, scheduling), ms. */
  overhead_ms: number;
  /** Sampling one token of one sequence, ms. */
  sample_ms: number;
  /** One pass over the weights, paid once per physical batch (memory-bound), ms. */
  weight_pass_ms: number;
  /** Compute per token in a physical batch (compute-bound), ms. */
  token_ms: number;
  /** Reading one cached token's K and V during a decode step, ms. */
  kv_read_ms_per_token: number;
  /** Attention compute of one token against one cached token, ms. */
  attention_ms_per_pair: number;
}

/** The server's defaults: the knobs at which `prefillTps` and `decodeTps` hold. */
const REFERENCE_UBATCH = 512;
const REFERENCE_BATCH = 2048;

/** Per-token compute penalty of quantized KV types (dequantization), relative. */
const KV_DEQUANT_COST: Readonly<Record<SimKvType, number>> = { f16: 0, q8_0: 0.03, q4_0: 0.05 };

/**
 * The simulated server's speed model: the time of one main-loop iteration from its work and the
 * knobs. A test double shaped like llama.cpp on a CPU so that a sweep or a tuner meets a realistic
 * landscape; it is not a prediction of any real machine, and its figures are never benchmark results.
 *
 * An iteration of `n` tokens (decode tokens plus prompt tokens) runs in `ceil(n / ubatch)` physical
 * batches and takes
 *
 *     overhead + sample × sequences + passes × W + n × c + Σ decode KV reads + Σ attention
 *
 * where `W` (reading the weights, memory-bound) and `c` (compute per token) are calibrated so that at
 * the default knobs one sequence alone decodes at `decodeTps` (`overhead + sample + W + c` per token)
 * and a long prompt alone is processed at about `prefillTps` (`W / 512 + c` per token). Hence:
 * - batching: a step with B decoding sequences costs `W + B c`, so aggregate decode throughput grows
 *   sub-linearly with B (towards the prefill rate) and each sequence slows down;
 * - a prompt chunk in an iteration delays every other sequence's next token by its compute time;
 * - TTFT grows with prompt length (linear compute, quadratic attention), decode slows with context
 *   (the KV cache is read at the bandwidth implied by `W` and the weights' size).
 *
 * Knob effects, small on purpose and each with an interior optimum or a trade-off:
 * - threads: compute scales with threads up to `cores`, bandwidth saturates at `cores / 2`, and
 *   oversubscription (threads > cores) costs both; the optimum is `cores`;
 * - ubatch: larger amortises `W` over more prompt tokens but costs locality,
 *   `c × (1 + 0.03 log2(ubatch / 256)²)`, optimum between 256 and 512;
 * - batch: how much of a prompt one iteration takes (fewer, longer stalls of the others' decode), and
 *   a synthetic host cost `c × (1 + 0.02 log2(batch / 1024)²)` so that a middle value is best;
 * - KV types: q8_0 / q4_0 make the cache 0.53 / 0.28 times smaller and faster to read, but add 3 / 5 %
 *   of dequantization per token per quantized cache, and more to attention;
 * - flash attention (on or auto): attention compute × 0.7, KV reads × 0.9;
 * - GPU layers: up to 12 % faster with every layer offloaded.
 */
export class SpeedModel {
  readonly constants: SpeedConstants;
  private readonly ubatch: number;

  constructor(config: SimulationConfig) {
    this.ubatch = config.effectiveUbatch;
    const D = 1000 / config.decodeTps;
    const P = 1000 / config.prefillTps;
    const U = REFERENCE_UBATCH;
    const overhead = Math.min(0.2, 0.03 * D);
    const sample = Math.min(0.1, 0.02 * D);
    // Solve overhead + sample + W + c = D (decode alone) and W / U + c = P (long prompt alone).
    const fixed = overhead + sample;
    let W = ((D - fixed - P) * U) / (U - 1);
    let c = P - W / U;
    if (W < 0.05 * D) {
      W = 0.05 * D;
      c = D - fixed - W;
    }
    if (c < 0.05 * P) {
      // A prefill rate above ~U × the decode rate cannot hold with this shape; keep decode exact.
      c = 0.05 * P;
      W = D - fixed - c;
    }
    const bandwidthBytesPerMs = (config.modelSizeMiB * 1024 * 1024) / W;

    const cores = config.cores;
    const t = config.threads;
    const over = Math.max(0, t - cores) / cores;
    const computeSpeed = Math.min(t, cores) / (1 + 0.5 * over);
    const bandwidthSpeed = Math.min(1, Math.min(t, cores) / (cores / 2)) ** 0.6 / (1 + 0.6 * over);
    const computeFactor = cores / computeSpeed;
    const bandwidthFactor = 1 / bandwidthSpeed;
    const ubatchCost = (u: number) => 1 + 0.03 * Math.log2(u / 256) ** 2;
    const batchCost = (b: number) => 1 + 0.02 * Math.log2(b / 1024) ** 2;
    const knobCompute =
      (ubatchCost(config.effectiveUbatch) / ubatchCost(REFERENCE_UBATCH)) *
      (batchCost(config.batchSize) / batchCost(REFERENCE_BATCH)) *
      (1 + KV_DEQUANT_COST[config.cacheTypeK] + KV_DEQUANT_COST[config.cacheTypeV]);
    const gpu = 1 - 0.12 * config.gpuShare;
    const kvBytes =
      (config.kvBytesPerToken *
        (KV_TYPE_BYTES_VS_F16[config.cacheTypeK] + KV_TYPE_BYTES_VS_F16[config.cacheTypeV])) /
      2;
    const fa = config.flashAttnOn;
    const attentionDequant =
      1 + 3 * (KV_DEQUANT_COST[config.cacheTypeK] + KV_DEQUANT_COST[config.cacheTypeV]);
    this.constants = {
      overhead_ms: overhead,
      sample_ms: sample,
      weight_pass_ms: W * bandwidthFactor * gpu,
      token_ms: c * computeFactor * knobCompute * gpu,
      kv_read_ms_per_token: (kvBytes / bandwidthBytesPerMs) * bandwidthFactor * gpu * (fa ? 0.9 : 1),
      // At 4096 tokens of context, attention adds 20 % to a token's compute (flash attention off).
      attention_ms_per_pair: ((0.2 * c) / 4096) * computeFactor * gpu * (fa ? 0.7 : 1) * attentionDequant,
    };
  }

  /** Duration of one iteration in ms, before noise. */
  iterationMs(work: IterationWork): number {
    const k = this.constants;
    let tokens = work.decodeContexts.length;
    let ms = k.overhead_ms + k.sample_ms * work.sampled;
    for (const context of work.decodeContexts) {
      ms += context * (k.kv_read_ms_per_token + k.attention_ms_per_pair);
    }
    for (const chunk of work.prefill) {
      tokens += chunk.tokens;
      ms += chunk.tokens * (chunk.start + chunk.tokens / 2) * k.attention_ms_per_pair;
    }
    if (tokens === 0) return ms;
    return ms + Math.ceil(tokens / this.ubatch) * k.weight_pass_ms + tokens * k.token_ms;
  }
}
