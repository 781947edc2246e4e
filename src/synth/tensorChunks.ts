import type { GgmlTypeInfo } from "../gguf/GgmlType.js";
import { type RowEncoder, rowEncoderFor } from "../gguf/quantizeRow.js";
import type { PlannedTensor, TensorInit } from "./planTensors.js";
import { shapeElements } from "./planTensors.js";

/**
 * Elements per chunk: the unit of streaming and of parallel work. Each chunk's generator state is
 * derived by jumping the tensor's stream ahead, so the bytes never depend on who encodes which
 * chunk. 1 Mi elements keep a worker busy for milliseconds per message and the buffers at a few MiB.
 */
export const SYNTH_CHUNK_ELEMENTS = 1 << 20;

/** Values generated then encoded at a time inside a chunk: small enough to stay in L1/L2 cache. */
const SLICE_ELEMENTS = 1 << 14;

/** FNV-1a of the tensor name mixed with the seed, so each tensor's stream is independent of order. */
export function tensorSeed(seed: number, name: string): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= Math.imul(seed >>> 0, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= h >>> 13;
  return h === 0 ? 0x6d2b79f5 : h;
}

/** One xorshift32 step (13, 17, 5) on an int32 state. */
function xorshift32(state: number): number {
  let s = state;
  s ^= s << 13;
  s ^= s >>> 17;
  s ^= s << 5;
  return s;
}

/** A linear map of 32-bit states over GF(2), as the images of the 32 unit vectors. */
type BitMatrix = Int32Array;

function applyMatrix(m: BitMatrix, state: number): number {
  let r = 0;
  for (let i = 0; i < 32; i++) r ^= -((state >>> i) & 1) & (m[i] as number);
  return r;
}

function composeMatrices(a: BitMatrix, b: BitMatrix): BitMatrix {
  const c = new Int32Array(32);
  for (let i = 0; i < 32; i++) c[i] = applyMatrix(a, b[i] as number);
  return c;
}

/**
 * The map of `steps` xorshift32 steps. xorshift is linear over GF(2), so jumping ahead is a
 * 32x32 bit-matrix power: a handful of microseconds instead of generating the skipped values.
 */
function xorshift32JumpMatrix(steps: number): BitMatrix {
  let result: BitMatrix = new Int32Array(32);
  for (let i = 0; i < 32; i++) result[i] = 1 << i;
  let base: BitMatrix = new Int32Array(32);
  for (let i = 0; i < 32; i++) base[i] = xorshift32(1 << i);
  for (let n = steps; n > 0; n = Math.floor(n / 2)) {
    if (n % 2 === 1) result = composeMatrices(base, result);
    base = composeMatrices(base, base);
  }
  return result;
}

let chunkJump: BitMatrix | undefined;

/** The xorshift32 state `steps` values after `state` (int32 in, int32 out). */
export function xorshift32Advance(state: number, steps: number): number {
  if (steps === SYNTH_CHUNK_ELEMENTS) {
    chunkJump ??= xorshift32JumpMatrix(SYNTH_CHUNK_ELEMENTS);
    return applyMatrix(chunkJump, state | 0);
  }
  return applyMatrix(xorshift32JumpMatrix(steps), state | 0);
}

/** One chunk of a synthetic tensor: everything a worker needs to encode it on its own. */
export interface SynthChunkJob {
  /** Value distribution of the tensor. */
  readonly init: TensorInit;
  /** ggml type name the chunk is encoded in (`Q4_0`). */
  readonly typeName: string;
  /** xorshift32 state before the chunk's first value. */
  readonly state: number;
  /** Values in the chunk: a whole number of blocks. */
  readonly elements: number;
  /** Encoded size of the chunk in bytes. */
  readonly bytes: number;
}

/** Number of chunks {@link tensorChunkJobs} yields for `tensor`. */
export function tensorChunkCount(tensor: PlannedTensor): number {
  return Math.ceil(shapeElements(tensor.shape) / SYNTH_CHUNK_ELEMENTS);
}

/** The chunks of a tensor in order, each with its own generator state, without generating a value. */
export function* tensorChunkJobs(
  tensor: PlannedTensor,
  type: GgmlTypeInfo,
  seed: number,
): Generator<SynthChunkJob> {
  const elements = shapeElements(tensor.shape);
  let state = tensorSeed(seed, tensor.name) | 0;
  for (let done = 0; done < elements; done += SYNTH_CHUNK_ELEMENTS) {
    const n = Math.min(SYNTH_CHUNK_ELEMENTS, elements - done);
    yield {
      init: tensor.init,
      typeName: type.name,
      state,
      elements: n,
      bytes: (n / type.blockSize) * type.typeSize,
    };
    if (tensor.init.kind === "uniform" && done + n < elements) state = xorshift32Advance(state, n);
  }
}

/** Reusable buffers of {@link encodeChunk}: one slice of float32 values. */
export interface ChunkScratch {
  readonly values: Float32Array;
}

/** Scratch for {@link encodeChunk}; one per thread. */
export function createChunkScratch(): ChunkScratch {
  return { values: new Float32Array(SLICE_ELEMENTS) };
}

function encoderOf(typeName: string): RowEncoder {
  const encode = rowEncoderFor(typeName);
  if (encode === undefined) throw new RangeError(`no encoder for ggml type ${typeName}`);
  return encode;
}

/** Interleaved sub-streams per full slice, and the jump between their starts. */
const LANES = 4;
const LANE_ELEMENTS = SLICE_ELEMENTS / LANES;
let laneJump: BitMatrix | undefined;

/**
 * Writes the next `n` values of the stream at `state` into `values` and returns the state after
 * them. One xorshift step is a chain of six dependent operations, so a single stream runs at the
 * latency of that chain; a full slice instead runs four quarters of it, started at jumped states,
 * side by side: the same values, several times the throughput.
 */
function fillUniform(values: Float32Array, n: number, state: number, factor: number): number {
  if (n !== SLICE_ELEMENTS) {
    let s = state;
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      values[i] = s * factor;
    }
    return s;
  }
  laneJump ??= xorshift32JumpMatrix(LANE_ELEMENTS);
  let a = state;
  let b = applyMatrix(laneJump, a);
  let c = applyMatrix(laneJump, b);
  let d = applyMatrix(laneJump, c);
  for (let i = 0; i < LANE_ELEMENTS; i++) {
    a ^= a << 13;
    b ^= b << 13;
    c ^= c << 13;
    d ^= d << 13;
    a ^= a >>> 17;
    b ^= b >>> 17;
    c ^= c >>> 17;
    d ^= d >>> 17;
    a ^= a << 5;
    b ^= b << 5;
    c ^= c << 5;
    d ^= d << 5;
    values[i] = a * factor;
    values[i + LANE_ELEMENTS] = b * factor;
    values[i + 2 * LANE_ELEMENTS] = c * factor;
    values[i + 3 * LANE_ELEMENTS] = d * factor;
  }
  return d;
}

/**
 * Encodes the values of `job` into `out` (at least `job.bytes` long), slice by slice so the float
 * values never leave the cache. Pure function of the job: any thread produces the same bytes.
 */
export function encodeChunk(job: SynthChunkJob, out: Uint8Array, scratch: ChunkScratch): void {
  const encode = encoderOf(job.typeName);
  const values = scratch.values;
  const bytesPerValue = job.bytes / job.elements;
  const init = job.init;
  if (init.kind === "ones") values.fill(1);
  const factor = init.kind === "uniform" ? init.scale / 2147483648 : 0;
  let s = job.state | 0;
  for (let done = 0; done < job.elements; done += SLICE_ELEMENTS) {
    const n = Math.min(SLICE_ELEMENTS, job.elements - done);
    if (init.kind === "uniform") s = fillUniform(values, n, s, factor);
    encode(values, n, out, done * bytesPerValue);
  }
}

/**
 * Yields the encoded bytes of a synthetic tensor chunk by chunk: values come from a xorshift32
 * stream seeded by (seed, name), are encoded block by block, and the chunk buffer is reused, so
 * memory stays at a few MiB for any tensor size.
 */
export function* tensorChunks(
  tensor: PlannedTensor,
  type: GgmlTypeInfo,
  seed: number,
): Generator<Uint8Array> {
  encoderOf(type.name);
  const scratch = createChunkScratch();
  let out: Uint8Array | undefined;
  for (const job of tensorChunkJobs(tensor, type, seed)) {
    out ??= new Uint8Array(job.bytes);
    encodeChunk(job, out, scratch);
    yield out.subarray(0, job.bytes);
  }
}
