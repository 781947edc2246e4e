import { rename, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { GgmlTypeInfo } from "../gguf/GgmlType.js";
import { ggmlTypeByName } from "../gguf/GgmlType.js";
import type { GgufKv } from "../gguf/GgufValue.js";
import type { GgufTensorSpec, WriteGgufOptions } from "../gguf/GgufWriter.js";
import { writeGguf } from "../gguf/GgufWriter.js";
import { buildSpmVocab, SPM_RESERVED_TOKENS } from "./buildSpmVocab.js";
import type { ModelShape } from "./ModelShape.js";
import { SYNTH_ARCHITECTURES } from "./ModelShape.js";
import type { PlannedTensor } from "./planTensors.js";
import { planTensors, shapeElements } from "./planTensors.js";
import { findPreset, listPresets } from "./presets.js";
import { SynthWorkerPool } from "./SynthWorkerPool.js";
import { SYNTH_FILE_TYPE, SYNTH_TYPES, type SynthType } from "./synthTypes.js";
import { type SynthChunkJob, tensorChunkCount, tensorChunkJobs, tensorChunks } from "./tensorChunks.js";

/**
 * Below this many parameters the default is one thread: starting workers costs more than encoding
 * (the `tiny` preset writes in a fraction of a second).
 */
const PARALLEL_MIN_PARAMETERS = 32 * 2 ** 20;

/** What {@link synthesizeModel} writes. */
export interface SynthesizeModelOptions {
  /** Preset name (see `listPresets()`); its shape is the base that `shape` overrides. Defaults to "tiny". */
  readonly preset?: string;
  /** Weight type of the matrices; vectors (norms, biases) and MoE routers stay F32. Defaults to "f16". */
  readonly type?: SynthType;
  /** Output path of the GGUF file; written through a temporary file and renamed when complete. */
  readonly out: string;
  /** Seed of the weights: the same seed, shape and type give byte-identical files. Defaults to 1. */
  readonly seed?: number;
  /** Shape fields that replace the preset's (custom models). Defaults to none. */
  readonly shape?: Partial<ModelShape>;
  /** `general.name` written into the file. Defaults to "tokbench synthetic <preset>". */
  readonly name?: string;
  /**
   * Worker threads encoding the weights; 1 encodes on the calling thread. The bytes are the same
   * for any value. Defaults to `os.availableParallelism()`, or 1 for models under 32 Mi parameters.
   */
  readonly threads?: number;
}

/** What was written. */
export interface SynthesizeModelResult {
  /** The file written. */
  readonly path: string;
  /** Its size in bytes. */
  readonly bytes: number;
  /** Parameter count (sum of tensor elements). */
  readonly parameters: number;
  /** Number of tensors. */
  readonly tensorCount: number;
  /** The shape written (preset plus overrides). */
  readonly shape: ModelShape;
}

/**
 * The ggml type a tensor is stored in: vectors stay F32; a matrix whose row length is not a whole
 * number of blocks of the requested type falls back (like llama-quantize does) to Q8_0, then F16.
 */
export function storageType(tensor: PlannedTensor, type: SynthType): GgmlTypeInfo {
  const f32 = ggmlTypeByName("F32") as GgmlTypeInfo;
  if (!tensor.quantizable) return f32;
  const rowLength = tensor.shape[0] as number;
  for (const name of [type, "q8_0", "f16"]) {
    const t = ggmlTypeByName(name) as GgmlTypeInfo;
    if (rowLength % t.blockSize === 0) return t;
  }
  return f32;
}

/** Resolves a preset plus overrides into a validated shape; throws SYNTH_INVALID_SHAPE otherwise. */
export function resolveShape(preset: string, overrides: Partial<ModelShape> = {}): ModelShape {
  const base = findPreset(preset);
  if (base === undefined) {
    const names = listPresets()
      .map((p) => p.name)
      .join(", ");
    throw new TokbenchError("SYNTH_INVALID_SHAPE", `unknown preset "${preset}" (known: ${names})`, {
      context: { preset },
    });
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const shape: ModelShape = { ...base.shape, ...defined };
  // A custom head count without an explicit head size means the usual hidden / heads.
  if (
    overrides.headDim === undefined &&
    (overrides.embeddingLength !== undefined || overrides.headCount !== undefined)
  ) {
    (shape as { headDim: number }).headDim = Math.floor(shape.embeddingLength / shape.headCount);
  }
  validateShape(shape);
  return shape;
}

function validateShape(s: ModelShape): void {
  const bad = (what: string): never => {
    throw new TokbenchError("SYNTH_INVALID_SHAPE", `invalid model shape: ${what}`);
  };
  if (!SYNTH_ARCHITECTURES.includes(s.architecture))
    bad(`architecture "${s.architecture}" is not one of ${SYNTH_ARCHITECTURES.join(", ")}`);
  const positive: (keyof ModelShape)[] = [
    "vocabSize",
    "embeddingLength",
    "blockCount",
    "feedForwardLength",
    "headCount",
    "headCountKv",
    "headDim",
    "contextLength",
  ];
  for (const key of positive) {
    const v = s[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
      bad(`${key} must be a positive integer, got ${v}`);
  }
  if (s.vocabSize <= SPM_RESERVED_TOKENS)
    bad(`vocabSize must exceed ${SPM_RESERVED_TOKENS}, got ${s.vocabSize}`);
  if (s.headCount % s.headCountKv !== 0)
    bad(`headCount ${s.headCount} is not a multiple of headCountKv ${s.headCountKv}`);
  if (s.headDim % 2 !== 0) bad(`headDim must be even for RoPE, got ${s.headDim}`);
  if (s.embeddingLength % 32 !== 0) bad(`embeddingLength must be a multiple of 32, got ${s.embeddingLength}`);
  const moe = s.architecture === "qwen3moe";
  if (moe !== s.expertCount > 0) bad(`expertCount must be > 0 exactly for qwen3moe, got ${s.expertCount}`);
  if (moe && (s.expertUsedCount <= 0 || s.expertUsedCount > s.expertCount)) {
    bad(`expertUsedCount must be in 1..${s.expertCount}, got ${s.expertUsedCount}`);
  }
  if (moe && s.expertFeedForwardLength <= 0) bad(`expertFeedForwardLength must be positive`);
  if (s.architecture === "qwen2" && !s.qkvBias) bad("qwen2 needs qkvBias");
  if ((s.architecture === "qwen3" || s.architecture === "qwen3moe") && !s.qkNorm)
    bad(`${s.architecture} needs qkNorm`);
  if ((s.architecture === "llama" || s.architecture === "qwen2") && s.qkNorm)
    bad(`${s.architecture} has no qkNorm`);
}

/** The GGUF metadata of a synthetic model: llama.cpp hyper-parameters and the SPM tokenizer. */
export function synthMetadata(shape: ModelShape, type: SynthType, seed: number, name: string): GgufKv[] {
  const a = shape.architecture;
  const u32 = (key: string, value: number): GgufKv => ({ key, type: "uint32", value });
  const f32 = (key: string, value: number): GgufKv => ({ key, type: "float32", value });
  const vocab = buildSpmVocab(shape.vocabSize);
  const kv: GgufKv[] = [
    { key: "general.architecture", type: "string", value: a },
    { key: "general.name", type: "string", value: name },
    u32("general.file_type", SYNTH_FILE_TYPE[type]),
    u32("general.quantization_version", 2),
    u32(`${a}.vocab_size`, shape.vocabSize),
    u32(`${a}.context_length`, shape.contextLength),
    u32(`${a}.embedding_length`, shape.embeddingLength),
    u32(`${a}.block_count`, shape.blockCount),
    u32(`${a}.feed_forward_length`, shape.feedForwardLength),
    u32(`${a}.attention.head_count`, shape.headCount),
    u32(`${a}.attention.head_count_kv`, shape.headCountKv),
    u32(`${a}.attention.key_length`, shape.headDim),
    u32(`${a}.attention.value_length`, shape.headDim),
    u32(`${a}.rope.dimension_count`, shape.headDim),
    f32(`${a}.rope.freq_base`, shape.ropeFreqBase),
    f32(`${a}.attention.layer_norm_rms_epsilon`, shape.rmsNormEps),
  ];
  if (shape.expertCount > 0) {
    kv.push(u32(`${a}.expert_count`, shape.expertCount));
    kv.push(u32(`${a}.expert_used_count`, shape.expertUsedCount));
    kv.push(u32(`${a}.expert_feed_forward_length`, shape.expertFeedForwardLength));
  }
  kv.push(
    { key: "tokenizer.ggml.model", type: "string", value: "llama" },
    { key: "tokenizer.ggml.tokens", type: "array", elementType: "string", value: vocab.tokens },
    { key: "tokenizer.ggml.scores", type: "array", elementType: "float32", value: vocab.scores },
    { key: "tokenizer.ggml.token_type", type: "array", elementType: "int32", value: vocab.tokenTypes },
    u32("tokenizer.ggml.bos_token_id", vocab.bosId),
    u32("tokenizer.ggml.eos_token_id", vocab.eosId),
    u32("tokenizer.ggml.unknown_token_id", vocab.unknownId),
    { key: "tokenizer.ggml.add_bos_token", type: "bool", value: true },
    { key: "tokenizer.ggml.add_eos_token", type: "bool", value: false },
    { key: "tokbench.synth.seed", type: "uint32", value: seed },
  );
  return kv;
}

/**
 * Writes a GGUF model of a preset's (or custom) shape with deterministic synthetic weights and a
 * working SPM tokenizer. Streams tensor by tensor, block by block: memory stays at a few MiB plus
 * the vocabulary, whatever the model size. The file loads and generates in llama.cpp.
 */
export async function synthesizeModel(options: SynthesizeModelOptions): Promise<SynthesizeModelResult> {
  const presetName = options.preset ?? "tiny";
  const type = options.type ?? "f16";
  const seed = options.seed ?? 1;
  if (!SYNTH_TYPES.includes(type)) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `unknown synth type "${type}" (known: ${SYNTH_TYPES.join(", ")})`,
    );
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new TokbenchError("INVALID_ARGUMENT", `seed must be an integer in 0..4294967295, got ${seed}`);
  }
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1)) {
    throw new TokbenchError("INVALID_ARGUMENT", `threads must be an integer >= 1, got ${options.threads}`);
  }
  const shape = resolveShape(presetName, options.shape);
  const planned = planTensors(shape);
  const specs: GgufTensorSpec[] = planned.map((t) => ({
    name: t.name,
    shape: t.shape,
    type: storageType(t, type),
  }));
  const metadata = synthMetadata(shape, type, seed, options.name ?? `tokbench synthetic ${presetName}`);
  const parameters = planned.reduce((sum, t) => sum + shapeElements(t.shape), 0);
  const threads = options.threads ?? (parameters < PARALLEL_MIN_PARAMETERS ? 1 : availableParallelism());
  const tmp = `${options.out}.tmp-${process.pid}`;
  let pool: SynthWorkerPool | undefined;
  let bytes: number;
  try {
    if (threads > 1) pool = new SynthWorkerPool(threads);
    let data: WriteGgufOptions["data"];
    if (pool === undefined) {
      data = (spec, index) => tensorChunks(planned[index] as PlannedTensor, spec.type, seed);
    } else {
      function* jobs(): Generator<SynthChunkJob> {
        for (const [index, tensor] of planned.entries()) {
          yield* tensorChunkJobs(tensor, (specs[index] as GgufTensorSpec).type, seed);
        }
      }
      // Two chunks per worker: one running, one queued, so no worker waits on the writer.
      const encoded = pool.encodeInOrder(jobs(), 2 * threads);
      data = (_spec, index) => takeChunks(encoded, tensorChunkCount(planned[index] as PlannedTensor));
    }
    bytes = await writeGguf(tmp, { metadata, tensors: specs, data });
    await rename(tmp, options.out);
  } catch (error) {
    await rm(tmp, { force: true });
    if (error instanceof TokbenchError) throw error;
    throw new TokbenchError("FILE_UNWRITABLE", `cannot write ${options.out}: ${(error as Error).message}`, {
      cause: error,
      context: { path: options.out },
    });
  } finally {
    await pool?.close();
  }
  return {
    path: options.out,
    bytes,
    parameters,
    tensorCount: planned.length,
    shape,
  };
}

/** The next `count` chunks of the shared in-order stream: one tensor's share of it. */
async function* takeChunks(stream: AsyncIterator<Uint8Array>, count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) {
    const next = await stream.next();
    if (next.done === true) throw new TokbenchError("INTERNAL", "synth chunk stream ended early");
    yield next.value;
  }
}
