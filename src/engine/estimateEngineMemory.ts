import { ggmlTypeByName } from "../gguf/GgmlType.js";
import type { EngineModelInfo } from "./EngineModelInfo.js";
import type { KvCacheType } from "./knobValues.js";

/** Bytes a configuration needs, by part. */
export interface EngineMemoryEstimate {
  weights_bytes: number;
  kv_cache_bytes: number;
  /** Logits and activations of one physical batch (a rough lower bound). */
  compute_bytes: number;
  total_bytes: number;
}

function bytesPerElement(type: KvCacheType): number {
  const info = ggmlTypeByName(type);
  return info === undefined ? 2 : info.typeSize / info.blockSize;
}

/**
 * Estimates the memory a model and context need: the weights (the file's tensor bytes), the KV cache
 * (`n_layer × cells × (n_embd_k_gqa × size(type_k) + n_embd_v_gqa × size(type_v))`) and the output
 * buffers of one batch. It is a lower bound meant to reject configurations that obviously cannot
 * fit, not a prediction of peak RSS.
 */
export function estimateEngineMemory(
  model: EngineModelInfo,
  weightsBytes: number,
  config: {
    ctx_tokens_per_sequence: number;
    parallel: number;
    ubatch_size: number;
    type_k: KvCacheType;
    type_v: KvCacheType;
  },
): EngineMemoryEstimate {
  const headDim = model.n_head > 0 ? model.n_embd / model.n_head : model.n_embd;
  const kvWidth = model.n_head_kv * headDim;
  const cells = config.ctx_tokens_per_sequence * config.parallel;
  const kv =
    model.n_layer * cells * kvWidth * (bytesPerElement(config.type_k) + bytesPerElement(config.type_v));
  const compute = config.ubatch_size * (model.n_vocab + 4 * model.n_embd) * 4;
  return {
    weights_bytes: weightsBytes,
    kv_cache_bytes: Math.round(kv),
    compute_bytes: compute,
    total_bytes: Math.round(weightsBytes + kv + compute),
  };
}
