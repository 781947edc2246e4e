import { open } from "node:fs/promises";
import { isTokbenchError, TokbenchError } from "../errors/TokbenchError.js";
import type { GgmlTypeInfo } from "./GgmlType.js";
import { tensorBytes } from "./GgmlType.js";
import { GGUF_VALUE_TYPE_IDS, type GgufKv, type GgufScalar, type GgufScalarType } from "./GgufValue.js";

/** "GGUF" read as a little-endian uint32. */
export const GGUF_MAGIC = 0x46554747;

/** Alignment of the data section when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** A tensor to write: GGUF shape order (`shape[0]` is the contiguous row length, ggml's ne[0]). */
export interface GgufTensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: GgmlTypeInfo;
}

/** What {@link writeGguf} needs. */
export interface WriteGgufOptions {
  /** Metadata in file order. */
  readonly metadata: readonly GgufKv[];
  /** Tensor infos in file order; data is laid out in the same order. */
  readonly tensors: readonly GgufTensorSpec[];
  /**
   * Produces the encoded bytes of tensor `index`, in order, as chunks (synchronously or not: an
   * async producer can encode ahead on other threads while the writer writes). A chunk may be
   * reused by the producer once the next one is requested, or once the next tensor's data is:
   * the writer has flushed it by then. Must yield exactly the tensor's byte size in total.
   */
  readonly data: (tensor: GgufTensorSpec, index: number) => Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  /** Data alignment; written as `general.alignment` only when it differs from 32. Defaults to 32. */
  readonly alignment?: number;
  /** Called after each chunk with the bytes written and the final file size. Defaults to none. */
  readonly onProgress?: (writtenBytes: number, totalBytes: number) => void;
  /**
   * Stops the write between two chunks: it throws the signal's reason when that is a
   * `RUN_INTERRUPTED` TokbenchError, else `RUN_INTERRUPTED`. The partial file stays where it is, for
   * the caller to remove. Defaults to none.
   */
  readonly signal?: AbortSignal;
}

/** Growable little-endian byte encoder for the header (metadata can be megabytes of vocabulary). */
class HeaderEncoder {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  i8(v: number): void {
    this.reserve(1);
    this.buf.writeInt8(v, this.length);
    this.length += 1;
  }
  u16(v: number): void {
    this.reserve(2);
    this.buf.writeUInt16LE(v, this.length);
    this.length += 2;
  }
  i16(v: number): void {
    this.reserve(2);
    this.buf.writeInt16LE(v, this.length);
    this.length += 2;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  f32(v: number): void {
    this.reserve(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  f64(v: number): void {
    this.reserve(8);
    this.buf.writeDoubleLE(v, this.length);
    this.length += 8;
  }
  u64(v: number | bigint): void {
    this.reserve(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  i64(v: number | bigint): void {
    this.reserve(8);
    this.buf.writeBigInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  str(s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.u64(n);
    this.reserve(n);
    this.buf.write(s, this.length, "utf8");
    this.length += n;
  }
  pad(alignment: number): void {
    const rem = this.length % alignment;
    if (rem === 0) return;
    const n = alignment - rem;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function encodeScalar(enc: HeaderEncoder, type: GgufScalarType, value: GgufScalar, key: string): void {
  const num = (): number => {
    if (typeof value !== "number") {
      throw new TokbenchError("INVALID_ARGUMENT", `GGUF metadata ${key}: expected a number for ${type}`);
    }
    return value;
  };
  switch (type) {
    case "uint8":
      enc.u8(num());
      break;
    case "int8":
      enc.i8(num());
      break;
    case "uint16":
      enc.u16(num());
      break;
    case "int16":
      enc.i16(num());
      break;
    case "uint32":
      enc.u32(num());
      break;
    case "int32":
      enc.i32(num());
      break;
    case "float32":
      enc.f32(num());
      break;
    case "float64":
      enc.f64(num());
      break;
    case "uint64":
      enc.u64(typeof value === "bigint" ? value : num());
      break;
    case "int64":
      enc.i64(typeof value === "bigint" ? value : num());
      break;
    case "bool":
      enc.u8(value ? 1 : 0);
      break;
    case "string":
      enc.str(String(value));
      break;
  }
}

/** Bytes of one tensor's data (no padding). */
export function ggufTensorDataBytes(tensor: GgufTensorSpec): number {
  const elements = tensor.shape.reduce((a, b) => a * b, 1);
  return tensorBytes(tensor.type, elements, tensor.shape[0] ?? 1);
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

/** Encodes the GGUF v3 header: magic, counts, metadata, tensor infos and the padding before data. */
export function encodeGgufHeader(
  metadata: readonly GgufKv[],
  tensors: readonly GgufTensorSpec[],
  alignment = GGUF_DEFAULT_ALIGNMENT,
): Buffer {
  const enc = new HeaderEncoder();
  enc.u32(GGUF_MAGIC);
  enc.u32(3);
  enc.u64(tensors.length);
  enc.u64(metadata.length);
  for (const kv of metadata) {
    enc.str(kv.key);
    enc.u32(GGUF_VALUE_TYPE_IDS[kv.type]);
    if (kv.type === "array") {
      enc.u32(GGUF_VALUE_TYPE_IDS[kv.elementType]);
      enc.u64(kv.value.length);
      for (const v of kv.value) encodeScalar(enc, kv.elementType, v, kv.key);
    } else {
      encodeScalar(enc, kv.type, kv.value, kv.key);
    }
  }
  let offset = 0;
  for (const t of tensors) {
    enc.str(t.name);
    enc.u32(t.shape.length);
    for (const d of t.shape) enc.u64(d);
    enc.u32(t.type.id);
    enc.u64(offset);
    offset = alignUp(offset + ggufTensorDataBytes(t), alignment);
  }
  enc.pad(alignment);
  return enc.bytes();
}

/**
 * Writes a GGUF v3 file, streaming tensor data chunk by chunk so memory stays bounded by the
 * producer's chunk size, whatever the model size. Returns the file size in bytes.
 */
export async function writeGguf(path: string, options: WriteGgufOptions): Promise<number> {
  const alignment = options.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  const header = encodeGgufHeader(options.metadata, options.tensors, alignment);
  const total =
    header.length + options.tensors.reduce((sum, t) => sum + alignUp(ggufTensorDataBytes(t), alignment), 0);
  const onProgress = options.onProgress;
  const signal = options.signal;
  const stopIfAborted = (): void => {
    if (signal?.aborted !== true) return;
    throw isTokbenchError(signal.reason, "RUN_INTERRUPTED")
      ? signal.reason
      : new TokbenchError("RUN_INTERRUPTED", `writing ${path} stopped`, { cause: signal.reason });
  };
  stopIfAborted();
  const handle = await open(path, "w");
  let position = 0;
  try {
    await handle.write(header, 0, header.length, position);
    position += header.length;
    const zeros = Buffer.alloc(alignment);
    for (const [index, tensor] of options.tensors.entries()) {
      const expected = ggufTensorDataBytes(tensor);
      let written = 0;
      for await (const chunk of options.data(tensor, index)) {
        stopIfAborted();
        await handle.write(chunk, 0, chunk.length, position);
        position += chunk.length;
        written += chunk.length;
        onProgress?.(position, total);
      }
      if (written !== expected) {
        throw new TokbenchError(
          "INTERNAL",
          `GGUF writer: tensor ${tensor.name} produced ${written} bytes, expected ${expected}`,
        );
      }
      const pad = alignUp(position, alignment) - position;
      if (pad > 0) {
        await handle.write(zeros, 0, pad, position);
        position += pad;
      }
    }
  } finally {
    await handle.close();
  }
  return position;
}
