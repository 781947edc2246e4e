import { TokbenchError } from "../errors/TokbenchError.js";
import { ggmlTypeByName } from "./GgmlType.js";
import type { GgufKv, GgufScalar, GgufScalarType } from "./GgufValue.js";
import type { GgufFile, GgufTensorInfo } from "./readGguf.js";
import { ggufArrayLength, readGguf } from "./readGguf.js";

/** What a tensor is for, from its GGUF name; drives the bytes-per-token split. */
export type TensorRole =
  | "token_embedding"
  | "output"
  | "attention"
  | "ffn"
  | "expert"
  | "router"
  | "norm"
  | "other";

/** One row of the per-tensor table. */
export interface TensorInspection {
  readonly name: string;
  /** GGUF order: `shape[0]` is the row length. */
  readonly shape: readonly number[];
  /** ggml type name (`Q4_0`). */
  readonly type: string;
  readonly bytes: number;
  readonly elements: number;
  readonly bits_per_weight: number;
  /** Block index for `blk.N.*` tensors, null for the others. */
  readonly layer: number | null;
  readonly role: TensorRole;
  /** Absolute byte offset of the data. */
  readonly offset_bytes: number;
}

/** Totals of one block (`blk.N.*`). */
export interface LayerInspection {
  readonly layer: number;
  readonly tensors: number;
  readonly parameters: number;
  readonly bytes: number;
}

/** Share of one ggml type in the file. */
export interface QuantizationShare {
  readonly type: string;
  readonly tensors: number;
  readonly parameters: number;
  readonly bytes: number;
  /** Fraction of all tensor bytes, 0..1. */
  readonly bytes_fraction: number;
}

/** Hyper-parameters read from `<arch>.*` metadata; null where the file does not say. */
export interface ModelHyperparameters {
  readonly context_length: number | null;
  readonly embedding_length: number | null;
  readonly block_count: number | null;
  readonly feed_forward_length: number | null;
  readonly head_count: number | null;
  /** KV heads; the maximum over layers when the file gives one value per layer. */
  readonly head_count_kv: number | null;
  readonly key_length: number | null;
  readonly value_length: number | null;
  readonly vocab_size: number | null;
  readonly expert_count: number | null;
  readonly expert_used_count: number | null;
  readonly expert_feed_forward_length: number | null;
  readonly rope_freq_base: number | null;
  readonly rms_norm_eps: number | null;
}

/** KV-cache size. */
export interface KvCacheInspection {
  /** ggml type of the cache (llama.cpp's default is F16). */
  readonly type: string;
  /** Bytes of K plus V for one token over all layers. */
  readonly bytes_per_token: number;
  /** Elements of K for one token over all layers (n_head_kv × key_length, summed over layers). */
  readonly k_elements_per_token: number;
  /** Elements of V for one token over all layers (n_head_kv × value_length, summed over layers). */
  readonly v_elements_per_token: number;
  /** Context length the next figure is for. */
  readonly context_length: number;
  /** bytes_per_token × context_length. */
  readonly bytes_at_context: number;
}

/**
 * Bytes of weights a decode step reads for one token: every dense tensor entirely, one row of the
 * token embedding, and of each MoE expert stack only the n_expert_used / n_expert routed share.
 */
export interface BytesPerTokenInspection {
  /** Dense weights (attention, dense FFN, norms, routers, output). */
  readonly dense_bytes: number;
  /** The token-embedding row looked up. */
  readonly embedding_row_bytes: number;
  /** Routed share of the expert stacks. */
  readonly expert_active_bytes: number;
  /** All expert weights (what must fit in memory). */
  readonly expert_total_bytes: number;
  /** dense + embedding row + active experts. */
  readonly total_bytes: number;
  /** Parameters touched per token (same split as the bytes). */
  readonly active_parameters: number;
}

/** A metadata entry with big arrays summarised. */
export interface MetadataInspection {
  readonly key: string;
  readonly type: string;
  /** Scalars as is (64-bit values beyond 2^53 as decimal strings); arrays as their first 8 values. */
  readonly value: string | number | boolean | readonly (string | number | boolean)[];
  /** Array length, for arrays. */
  readonly length?: number;
}

/** Everything `tokbench inspect` knows about a model file; plain data, ready for JSON. */
export interface ModelInspection {
  readonly path: string;
  readonly file_bytes: number;
  readonly gguf_version: number;
  readonly alignment: number;
  readonly data_offset_bytes: number;
  readonly architecture: string | null;
  readonly name: string | null;
  /** `general.file_type` (llama_ftype), null when absent. */
  readonly file_type: number | null;
  readonly hyperparameters: ModelHyperparameters;
  /** Parameter count: sum of all tensor elements. */
  readonly parameters: number;
  /** Sum of tensor data bytes. */
  readonly tensor_bytes: number;
  /** tensor_bytes × 8 / parameters. */
  readonly bits_per_weight: number;
  readonly tensors: readonly TensorInspection[];
  readonly layers: readonly LayerInspection[];
  /** By type, most bytes first. */
  readonly quantization_mix: readonly QuantizationShare[];
  readonly compression: {
    readonly f16_bytes: number;
    readonly f32_bytes: number;
    /** f16_bytes / tensor_bytes. */
    readonly ratio_vs_f16: number;
    /** f32_bytes / tensor_bytes. */
    readonly ratio_vs_f32: number;
  };
  readonly kv_cache: KvCacheInspection;
  readonly bytes_per_token: BytesPerTokenInspection;
  readonly metadata: readonly MetadataInspection[];
}

/** Options of {@link inspectModel}. */
export interface InspectModelOptions {
  /** Context length for the KV-cache total. Defaults to the model's context length, or 4096. */
  readonly contextLength?: number;
  /** KV-cache element type (`f16`, `f32`, `bf16`, `q8_0`, `q4_0`...). Defaults to "f16". */
  readonly kvType?: string;
}

/** Role of a tensor from its GGUF name. */
export function tensorRole(name: string): TensorRole {
  if (name === "token_embd.weight") return "token_embedding";
  if (name === "output.weight") return "output";
  if (/_(exps|chexps)\.(weight|bias|scale)$/.test(name) || /\.ffn_(gate|up|down|gate_up)_exps/.test(name))
    return "expert";
  if (/ffn_gate_inp(_shexp)?\.weight$/.test(name) || name.endsWith("exp_probs_b.bias")) return "router";
  if (/norm[^.]*\.weight$|norm\.bias$/.test(name)) return "norm";
  if (/\.attn_|\.attn\./.test(name)) return "attention";
  if (/\.ffn_/.test(name)) return "ffn";
  return "other";
}

function scalarOf(file: GgufFile, key: string): GgufScalar | readonly GgufScalar[] | undefined {
  const kv = file.metadata.find((m) => m.key === key);
  if (kv === undefined) return undefined;
  if (kv.type === "array") return Array.from(kv.value as ArrayLike<GgufScalar>);
  return kv.value;
}

/** A numeric hyper-parameter; per-layer arrays give their maximum. */
function numberOf(file: GgufFile, key: string): number | null {
  const v = scalarOf(file, key);
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (Array.isArray(v)) {
    const nums = v.filter((x): x is number => typeof x === "number");
    return nums.length > 0 ? Math.max(...nums) : null;
  }
  return null;
}

/** Per-layer values of a hyper-parameter that may be a scalar or a per-layer array. */
function perLayer(file: GgufFile, key: string, layers: number, fallback: number): number[] {
  const v = scalarOf(file, key);
  if (Array.isArray(v)) return Array.from({ length: layers }, (_, i) => Number(v[i] ?? fallback));
  const n = typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : fallback;
  return new Array(layers).fill(n);
}

function summariseMetadata(kv: GgufKv): MetadataInspection {
  const plain = (v: GgufScalar): string | number | boolean => (typeof v === "bigint" ? v.toString() : v);
  if (kv.type !== "array") return { key: kv.key, type: kv.type, value: plain(kv.value) };
  const head = Array.from(kv.value as ArrayLike<GgufScalar>).slice(0, 8);
  return {
    key: kv.key,
    type: `array<${kv.elementType as GgufScalarType}>`,
    value: head.map(plain),
    length: ggufArrayLength(kv.value),
  };
}

/** KV-cache bytes per element of a cache type name. */
function kvElementBytes(kvType: string): { name: string; bytes: number } {
  const t = ggmlTypeByName(kvType);
  if (t === undefined) throw new TokbenchError("INVALID_ARGUMENT", `unknown KV-cache type "${kvType}"`);
  return { name: t.name, bytes: t.typeSize / t.blockSize };
}

/** Builds the inspection of an already parsed file (pure; see {@link inspectModel}). */
export function inspectGguf(file: GgufFile, options: InspectModelOptions = {}): ModelInspection {
  const archRaw = scalarOf(file, "general.architecture");
  const arch = typeof archRaw === "string" ? archRaw : null;
  const nameRaw = scalarOf(file, "general.name");
  const k = (suffix: string): number | null => (arch === null ? null : numberOf(file, `${arch}.${suffix}`));

  const tokenEmbd = file.tensors.find((t) => t.name === "token_embd.weight");
  const vocabFromTokens = file.metadata.find((m) => m.key === "tokenizer.ggml.tokens");
  const vocabSize =
    k("vocab_size") ??
    tokenEmbd?.shape[1] ??
    (vocabFromTokens?.type === "array" ? ggufArrayLength(vocabFromTokens.value) : null);
  const hp: ModelHyperparameters = {
    context_length: k("context_length"),
    embedding_length: k("embedding_length"),
    block_count: k("block_count"),
    feed_forward_length: k("feed_forward_length"),
    head_count: k("attention.head_count"),
    head_count_kv: k("attention.head_count_kv"),
    key_length: k("attention.key_length"),
    value_length: k("attention.value_length"),
    vocab_size: vocabSize,
    expert_count: k("expert_count"),
    expert_used_count: k("expert_used_count"),
    expert_feed_forward_length: k("expert_feed_forward_length"),
    rope_freq_base: k("rope.freq_base"),
    rms_norm_eps: k("attention.layer_norm_rms_epsilon"),
  };

  const tensors: TensorInspection[] = file.tensors.map((t: GgufTensorInfo) => {
    const m = /^blk\.(\d+)\./.exec(t.name);
    return {
      name: t.name,
      shape: t.shape,
      type: t.type.name,
      bytes: t.bytes,
      elements: t.elements,
      bits_per_weight: t.elements === 0 ? 0 : (t.bytes * 8) / t.elements,
      layer: m ? Number(m[1]) : null,
      role: tensorRole(t.name),
      offset_bytes: t.fileOffset,
    };
  });

  const parameters = tensors.reduce((s, t) => s + t.elements, 0);
  const tensorBytes = tensors.reduce((s, t) => s + t.bytes, 0);

  const layerMap = new Map<number, { tensors: number; parameters: number; bytes: number }>();
  for (const t of tensors) {
    if (t.layer === null) continue;
    const l = layerMap.get(t.layer) ?? { tensors: 0, parameters: 0, bytes: 0 };
    l.tensors++;
    l.parameters += t.elements;
    l.bytes += t.bytes;
    layerMap.set(t.layer, l);
  }
  const layers = [...layerMap.entries()].sort((a, b) => a[0] - b[0]).map(([layer, v]) => ({ layer, ...v }));

  const mixMap = new Map<string, { tensors: number; parameters: number; bytes: number }>();
  for (const t of tensors) {
    const q = mixMap.get(t.type) ?? { tensors: 0, parameters: 0, bytes: 0 };
    q.tensors++;
    q.parameters += t.elements;
    q.bytes += t.bytes;
    mixMap.set(t.type, q);
  }
  const quantization_mix = [...mixMap.entries()]
    .map(([type, v]) => ({ type, ...v, bytes_fraction: tensorBytes === 0 ? 0 : v.bytes / tensorBytes }))
    .sort((a, b) => b.bytes - a.bytes);

  // KV cache: per layer, K is n_head_kv × key_length and V n_head_kv × value_length elements per token.
  const blocks = hp.block_count ?? layers.length;
  const headDim = hp.embedding_length !== null && hp.head_count ? hp.embedding_length / hp.head_count : 0;
  const kvHeads =
    arch === null ? [] : perLayer(file, `${arch}.attention.head_count_kv`, blocks, hp.head_count ?? 0);
  const keyLen = hp.key_length ?? headDim;
  const valueLen = hp.value_length ?? headDim;
  const kElementsPerToken = kvHeads.reduce((s, h) => s + h * keyLen, 0);
  const vElementsPerToken = kvHeads.reduce((s, h) => s + h * valueLen, 0);
  const kvElementsPerToken = kElementsPerToken + vElementsPerToken;
  const kvType = kvElementBytes(options.kvType ?? "f16");
  const contextLength = options.contextLength ?? hp.context_length ?? 4096;
  if (!Number.isInteger(contextLength) || contextLength <= 0) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `context length must be a positive integer, got ${contextLength}`,
    );
  }
  const kvPerToken = kvElementsPerToken * kvType.bytes;

  // Bytes per decoded token.
  const nExpert = hp.expert_count ?? 0;
  const nUsed = hp.expert_used_count ?? 0;
  const expertFraction = nExpert > 0 ? nUsed / nExpert : 1;
  let dense = 0;
  let denseParams = 0;
  let expertTotal = 0;
  let expertActive = 0;
  let expertActiveParams = 0;
  let embeddingRow = 0;
  let embeddingRowParams = 0;
  const hasOutput = tensors.some((t) => t.role === "output");
  for (const t of tensors) {
    if (t.role === "token_embedding") {
      const rows = t.shape[1] ?? 1;
      embeddingRow = t.bytes / rows;
      embeddingRowParams = t.elements / rows;
      // Tied embeddings: the same matrix is the output projection, read in full every token.
      if (!hasOutput) {
        dense += t.bytes;
        denseParams += t.elements;
      }
    } else if (t.role === "expert") {
      expertTotal += t.bytes;
      expertActive += t.bytes * expertFraction;
      expertActiveParams += t.elements * expertFraction;
    } else {
      dense += t.bytes;
      denseParams += t.elements;
    }
  }

  return {
    path: file.path,
    file_bytes: file.fileBytes,
    gguf_version: file.version,
    alignment: file.alignment,
    data_offset_bytes: file.dataOffset,
    architecture: arch,
    name: typeof nameRaw === "string" ? nameRaw : null,
    file_type: numberOf(file, "general.file_type"),
    hyperparameters: hp,
    parameters,
    tensor_bytes: tensorBytes,
    bits_per_weight: parameters === 0 ? 0 : (tensorBytes * 8) / parameters,
    tensors,
    layers,
    quantization_mix,
    compression: {
      f16_bytes: parameters * 2,
      f32_bytes: parameters * 4,
      ratio_vs_f16: tensorBytes === 0 ? 0 : (parameters * 2) / tensorBytes,
      ratio_vs_f32: tensorBytes === 0 ? 0 : (parameters * 4) / tensorBytes,
    },
    kv_cache: {
      type: kvType.name,
      bytes_per_token: kvPerToken,
      k_elements_per_token: kElementsPerToken,
      v_elements_per_token: vElementsPerToken,
      context_length: contextLength,
      bytes_at_context: kvPerToken * contextLength,
    },
    bytes_per_token: {
      dense_bytes: dense,
      embedding_row_bytes: embeddingRow,
      expert_active_bytes: expertActive,
      expert_total_bytes: expertTotal,
      total_bytes: dense + embeddingRow + expertActive,
      active_parameters: denseParams + embeddingRowParams + expertActiveParams,
    },
    metadata: file.metadata.map(summariseMetadata),
  };
}

/**
 * Reads a GGUF file's header and describes the model: hyper-parameters, parameter count, per-tensor
 * table, per-layer totals, quantization mix, compression, KV-cache size and the bytes each decoded
 * token reads. Never reads tensor data. Throws the GGUF_* errors of {@link readGguf}.
 */
export async function inspectModel(
  path: string,
  options: InspectModelOptions = {},
): Promise<ModelInspection> {
  // Big arrays (vocabularies) are only summarised, so keep just their heads in memory.
  const file = await readGguf(path, { maxArrayElements: 64 });
  return inspectGguf(file, options);
}
