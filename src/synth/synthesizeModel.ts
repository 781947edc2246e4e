import { link, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { GgmlTypeInfo } from "../gguf/GgmlType.js";
import { ggmlTypeByName } from "../gguf/GgmlType.js";
import type { GgufKv } from "../gguf/GgufValue.js";
import type { GgufTensorSpec, WriteGgufOptions } from "../gguf/GgufWriter.js";
import { ggufTensorDataBytes, writeGguf } from "../gguf/GgufWriter.js";
import { buildSpmVocab, SPM_RESERVED_TOKENS } from "./buildSpmVocab.js";
import type { ModelShape } from "./ModelShape.js";
import { SYNTH_ARCHITECTURES } from "./ModelShape.js";
import type { PlannedTensor } from "./planTensors.js";
import { planTensors, shapeElements } from "./planTensors.js";
import { findPreset, listPresets } from "./presets.js";
import { SynthWorkerPool } from "./SynthWorkerPool.js";
import { checkShapeRanges, checkSynthFits, estimateSynthCost } from "./synthLimits.js";
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
  /**
   * Output path of the GGUF file. Written to a temporary file in the same directory
   * (`<out>.tmp-<pid>`) and renamed when complete, so a killed synth never leaves a partial file
   * under this name.
   */
  readonly out: string;
  /**
   * Replace `out` when it exists. When false, an existing `out` is refused with FILE_EXISTS before
   * anything is written, and the finished file is published without ever replacing one that
   * appeared meanwhile. Defaults to false.
   */
  readonly overwrite?: boolean;
  /**
   * Called as the file grows (after each chunk of about 1 MiB), for a progress display; the
   * library itself prints nothing. Defaults to none.
   */
  readonly onProgress?: (progress: SynthProgress) => void;
  /** Seed of the weights: the same seed, shape and type give byte-identical files. Defaults to 1. */
  readonly seed?: number;
  /**
   * Stops the synth between two chunks: the temporary file is removed, `out` is left as it was, and
   * the signal's reason (a `RUN_INTERRUPTED` TokbenchError) is thrown. Defaults to none.
   */
  readonly signal?: AbortSignal;
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

/** How far a synth is. */
export interface SynthProgress {
  /** Bytes written so far. */
  readonly written_bytes: number;
  /** Bytes the file will have (header estimate plus tensor data). */
  readonly total_bytes: number;
}

/** Most worker threads synth starts: more only add memory, never speed, on any machine we know. */
export const SYNTH_MAX_THREADS = 256;

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
    const headDim = shape.embeddingLength / shape.headCount;
    if (Number.isInteger(headDim)) (shape as { headDim: number }).headDim = headDim;
    else {
      throw new TokbenchError(
        "SYNTH_INVALID_SHAPE",
        `invalid model shape: embeddingLength (--embd) ${shape.embeddingLength} is not a multiple of headCount (--heads) ${shape.headCount}; --head-dim sets the head size instead`,
      );
    }
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
  // Ranges first: every later check, and the plan after it, then works on sane sizes.
  checkShapeRanges(s);
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
  if (s.headCountKv > s.headCount || s.headCount % s.headCountKv !== 0)
    bad(`headCount (--heads) ${s.headCount} is not a multiple of headCountKv (--kv-heads) ${s.headCountKv}`);
  if (s.headDim % 2 !== 0) bad(`headDim (--head-dim) must be even for RoPE, got ${s.headDim}`);
  if (s.embeddingLength % 32 !== 0)
    bad(`embeddingLength (--embd) must be a multiple of 32, got ${s.embeddingLength}`);
  const moe = s.architecture === "qwen3moe";
  if (moe !== s.expertCount > 0)
    bad(
      `expertCount (--experts) must be > 0 exactly for --arch qwen3moe, got ${s.expertCount} for ${s.architecture}`,
    );
  if (moe && (s.expertUsedCount <= 0 || s.expertUsedCount > s.expertCount)) {
    bad(`expertUsedCount (--experts-used) must be in 1..${s.expertCount}, got ${s.expertUsedCount}`);
  }
  if (moe && s.expertFeedForwardLength <= 0) bad(`expertFeedForwardLength (--expert-ff) must be positive`);
  if (!moe && (s.expertUsedCount > 0 || s.expertFeedForwardLength > 0))
    bad(`--experts-used and --expert-ff apply to --arch qwen3moe only`);
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
  if (
    options.threads !== undefined &&
    (!Number.isInteger(options.threads) || options.threads < 1 || options.threads > SYNTH_MAX_THREADS)
  ) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `threads must be an integer in 1..${SYNTH_MAX_THREADS}, got ${options.threads}`,
    );
  }
  const out = options.out;
  const overwrite = options.overwrite ?? false;
  // Cheap checks first, in the order a user fixes them: the shape, the destination, the size.
  const shape = resolveShape(presetName, options.shape);
  await checkDestination(out, overwrite);
  const planned = planTensors(shape);
  const specs: GgufTensorSpec[] = planned.map((t) => ({
    name: t.name,
    shape: t.shape,
    type: storageType(t, type),
  }));
  const parameters = planned.reduce((sum, t) => sum + shapeElements(t.shape), 0);
  const threads = options.threads ?? (parameters < PARALLEL_MIN_PARAMETERS ? 1 : availableParallelism());
  const dataBytes = specs.reduce((sum, t) => sum + Math.ceil(ggufTensorDataBytes(t) / 32) * 32, 0);
  const cost = estimateSynthCost(shape.vocabSize, specs.length, dataBytes, threads);
  await checkSynthFits(cost, dirname(resolve(out)));
  await removeStalePartials(out);
  const metadata = synthMetadata(shape, type, seed, options.name ?? `tokbench synthetic ${presetName}`);
  const tmp = `${out}.tmp-${process.pid}`;
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
    const onProgress = options.onProgress;
    bytes = await writeGguf(tmp, {
      metadata,
      tensors: specs,
      data,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(onProgress === undefined
        ? {}
        : {
            onProgress: (written: number, total: number) =>
              onProgress({ written_bytes: written, total_bytes: total }),
          }),
    });
    await publish(tmp, out, overwrite);
  } catch (error) {
    await rm(tmp, { force: true });
    if (error instanceof TokbenchError) throw error;
    throw new TokbenchError("FILE_UNWRITABLE", `cannot write ${out}: ${describeFsError(error)}`, {
      cause: error,
      context: { path: out },
    });
  } finally {
    await pool?.close();
  }
  return {
    path: out,
    bytes,
    parameters,
    tensorCount: planned.length,
    shape,
  };
}

/** "no space left on device (ENOSPC)": the OS reason without Node's syscall and path. */
function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e.code === undefined) return e.message ?? String(error);
  const reason = /^[A-Z]+: ([^,]+)/.exec(e.message)?.[1];
  return reason === undefined ? e.code : `${reason} (${e.code})`;
}

/**
 * Refuses an output path that cannot or must not be written: an existing file without `overwrite`
 * (FILE_EXISTS), a directory, or a missing parent directory (FILE_UNWRITABLE).
 */
async function checkDestination(out: string, overwrite: boolean): Promise<void> {
  let existing: Awaited<ReturnType<typeof stat>> | null = null;
  try {
    existing = await stat(out);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new TokbenchError("FILE_UNWRITABLE", `cannot write ${out}: ${describeFsError(error)}`, {
        cause: error,
        context: { path: out },
      });
    }
  }
  if (existing?.isDirectory() === true) {
    throw new TokbenchError("FILE_UNWRITABLE", `cannot write ${out}: it is a directory`, {
      context: { path: out },
    });
  }
  if (existing !== null && !overwrite) {
    throw new TokbenchError("FILE_EXISTS", `${out} already exists (--force replaces it)`, {
      context: { path: out },
    });
  }
  const parent = dirname(resolve(out));
  try {
    if (!(await stat(parent)).isDirectory())
      throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
  } catch (error) {
    throw new TokbenchError(
      "FILE_UNWRITABLE",
      `cannot write ${out}: the directory ${parent} does not exist`,
      { cause: error, context: { path: out } },
    );
  }
}

/**
 * Moves the finished temporary file to its name. Without `overwrite` it links then unlinks, which
 * fails with EEXIST instead of replacing a file another process put there meanwhile; file systems
 * without hard links fall back to a rename after one more check.
 */
async function publish(tmp: string, out: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(tmp, out);
    return;
  }
  try {
    await link(tmp, out);
    await unlink(tmp);
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") {
      throw new TokbenchError("FILE_EXISTS", `${out} appeared while synth was writing it; left untouched`, {
        cause: error,
        context: { path: out },
      });
    }
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV" && code !== "ENOSYS") throw error;
  }
  await checkDestination(out, false);
  await rename(tmp, out);
}

/** Removes `<out>.tmp-<pid>` files left by synths that were killed (their process is gone). */
async function removeStalePartials(out: string): Promise<void> {
  const dir = dirname(resolve(out));
  const prefix = `${basename(out)}.tmp-`;
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue;
    await rm(join(dir, name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The next `count` chunks of the shared in-order stream: one tensor's share of it. */
async function* takeChunks(stream: AsyncIterator<Uint8Array>, count: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) {
    const next = await stream.next();
    if (next.done === true) throw new TokbenchError("INTERNAL", "synth chunk stream ended early");
    yield next.value;
  }
}
