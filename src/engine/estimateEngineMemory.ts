import { estimateModelMemory, type MemoryEstimate } from "../gguf/estimateModelMemory.js";
import type { EngineModelInfo } from "./EngineModelInfo.js";
import type { KvCacheType } from "./knobValues.js";

/** Bytes a configuration needs, by part. */
export type EngineMemoryEstimate = MemoryEstimate;

/**
 * The memory estimate of `gguf/estimateModelMemory` for the facts node-llama-cpp's reader gives:
 * K and V are `n_head_kv × (n_embd / n_head)` elements per layer and token.
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
  const perLayer = model.n_head_kv * headDim;
  return estimateModelMemory(
    {
      weights_bytes: weightsBytes,
      k_elements_per_token: model.n_layer * perLayer,
      v_elements_per_token: model.n_layer * perLayer,
      n_vocab: model.n_vocab,
      n_embd: model.n_embd,
      n_layer: model.n_layer,
    },
    {
      kv_cells: config.ctx_tokens_per_sequence * config.parallel,
      type_k: config.type_k,
      type_v: config.type_v,
      ubatch_size: config.ubatch_size,
    },
  );
}
