import { basename } from "node:path";
import type { GgufFileInfo } from "node-llama-cpp";

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

function num(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

/** Reads model facts from parsed GGUF metadata (no weights loaded). */
export function engineModelInfoFromGguf(
  path: string,
  info: GgufFileInfo,
  loaded: { model_type: string; model_size: number } | null,
): EngineModelInfo {
  const arch = (info.architectureMetadata ?? {}) as Record<string, unknown>;
  const attention = (arch.attention ?? {}) as Record<string, unknown>;
  const metadata = info.metadata as unknown as Record<string, Record<string, unknown>>;
  const general = metadata.general ?? {};
  const tokens = ((metadata.tokenizer as Record<string, Record<string, unknown>> | undefined)?.ggml?.tokens ??
    []) as unknown[];
  let params = 0;
  for (const tensor of info.fullTensorInfo ?? []) {
    const elements = tensor.dimensions.reduce<number>((n, d) => n * Number(d), 1);
    params += elements;
  }
  const nHead = num(attention.head_count, 0);
  return {
    model_filename: basename(path),
    model_type: loaded?.model_type ?? String(general.architecture ?? "unknown"),
    model_size: loaded?.model_size ?? 0,
    model_n_params: params,
    architecture: String(general.architecture ?? "unknown"),
    n_layer: num(arch.block_count, 0),
    n_embd: num(arch.embedding_length, 0),
    n_head: nHead,
    n_head_kv: num(attention.head_count_kv, nHead),
    n_vocab: num(arch.vocab_size, tokens.length),
    n_ctx_train: num(arch.context_length, 0),
  };
}
