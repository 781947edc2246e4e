import { TokbenchError } from "../errors/TokbenchError.js";
import { ggmlTypeByName } from "./GgmlType.js";
import type { ModelInspection } from "./inspectModel.js";

/** The facts of a model that decide how much memory serving it takes. */
export interface ModelMemoryFacts {
  /** Bytes of tensor data: what loading the weights takes. */
  weights_bytes: number;
  /** Elements of K per token over all layers. */
  k_elements_per_token: number;
  /** Elements of V per token over all layers. */
  v_elements_per_token: number;
  n_vocab: number;
  n_embd: number;
  /** Transformer layers (for resolving a GPU-layer percentage). */
  n_layer: number;
}

/** What a context needs, beside the model. */
export interface MemoryEstimateInput {
  /** KV cells in all: context tokens per sequence × sequences (llama-server's `-c` is already the total). */
  kv_cells: number;
  /** KV-cache element types (`f16`, `q8_0`, ...). */
  type_k: string;
  type_v: string;
  /** Physical batch size: the logits and activations of one batch. */
  ubatch_size: number;
}

/** Bytes a configuration needs, by part. */
export interface MemoryEstimate {
  weights_bytes: number;
  kv_cache_bytes: number;
  /** Logits and activations of one physical batch (a rough lower bound). */
  compute_bytes: number;
  total_bytes: number;
}

/** Bytes per element of a KV-cache type; throws INVALID_ARGUMENT for a type ggml does not have. */
export function kvTypeBytes(type: string): number {
  const info = ggmlTypeByName(type);
  if (info === undefined) {
    throw new TokbenchError("INVALID_ARGUMENT", `unknown KV-cache type "${type}"`, { context: { type } });
  }
  return info.typeSize / info.blockSize;
}

/** The memory facts of an inspected GGUF file (`inspectModel`). */
export function modelMemoryFacts(model: ModelInspection): ModelMemoryFacts {
  const hp = model.hyperparameters;
  return {
    weights_bytes: model.tensor_bytes,
    k_elements_per_token: model.kv_cache.k_elements_per_token,
    v_elements_per_token: model.kv_cache.v_elements_per_token,
    n_vocab: hp.vocab_size ?? 0,
    n_embd: hp.embedding_length ?? 0,
    n_layer: hp.block_count ?? model.layers.length,
  };
}

/**
 * The one memory estimate of tokbench (the embedded engine's fit check and a server's pre-check
 * both use it): the weights (the file's tensor bytes), the KV cache
 * (`cells × (K elements × size(type_k) + V elements × size(type_v))` per token) and the output
 * buffers of one batch (`ubatch × (n_vocab + 4 × n_embd) × 4` bytes). It is a lower bound meant to
 * reject configurations that obviously cannot fit, not a prediction of peak RSS: llama.cpp's
 * compute graph, the server's slots and the runtime come on top.
 */
export function estimateModelMemory(facts: ModelMemoryFacts, input: MemoryEstimateInput): MemoryEstimate {
  const kv =
    input.kv_cells *
    (facts.k_elements_per_token * kvTypeBytes(input.type_k) +
      facts.v_elements_per_token * kvTypeBytes(input.type_v));
  const compute = input.ubatch_size * (facts.n_vocab + 4 * facts.n_embd) * 4;
  return {
    weights_bytes: facts.weights_bytes,
    kv_cache_bytes: Math.round(kv),
    compute_bytes: compute,
    total_bytes: Math.round(facts.weights_bytes + kv + compute),
  };
}
