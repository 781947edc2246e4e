import { basename } from "node:path";
import type { ModelInspection } from "../gguf/inspectModel.js";

/** What a benchmark row says about the model, with llama-bench's field names where it has them. */
export interface EngineModelInfo {
  /** File name (llama-bench prints the path it was given; tokbench keeps only the name). */
  model_filename: string;
  /** llama.cpp's model description, e.g. `llama 1B Q4_0`. */
  model_type: string;
  /** Bytes of tensor data as llama.cpp counts them (`llama_model_size`); 0 before the model is loaded. */
  model_size: number;
  /** Parameters (sum of tensor elements). */
  model_n_params: number;
  architecture: string;
  n_layer: number;
  n_embd: number;
  n_head: number;
  n_head_kv: number;
  n_vocab: number;
  n_ctx_train: number;
}

/**
 * Model facts for benchmark rows, from tokbench's own GGUF reader (the inspection the run already
 * made: one parse per run), plus what llama.cpp says once the model is loaded.
 */
export function engineModelInfo(
  path: string,
  inspection: ModelInspection,
  loaded: { model_type: string; model_size: number } | null,
): EngineModelInfo {
  const hp = inspection.hyperparameters;
  const nHead = hp.head_count ?? 0;
  const architecture = inspection.architecture ?? "unknown";
  return {
    model_filename: basename(path),
    model_type: loaded?.model_type ?? architecture,
    model_size: loaded?.model_size ?? 0,
    model_n_params: inspection.parameters,
    architecture,
    n_layer: hp.block_count ?? 0,
    n_embd: hp.embedding_length ?? 0,
    n_head: nHead,
    n_head_kv: hp.head_count_kv ?? nHead,
    n_vocab: hp.vocab_size ?? 0,
    n_ctx_train: hp.context_length ?? 0,
  };
}
