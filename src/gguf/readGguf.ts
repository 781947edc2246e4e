import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { ErrorCode } from "../errors/ErrorCode.js";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { GgmlTypeInfo } from "./GgmlType.js";
import { ggmlTypeById } from "./GgmlType.js";
import type { GgufArrayValues, GgufKv, GgufScalar, GgufScalarType } from "./GgufValue.js";
import { ggufScalarSize, ggufValueTypeName } from "./GgufValue.js";
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC } from "./GgufWriter.js";

/** One tensor info of a GGUF file. */
export interface GgufTensorInfo {
  /** Tensor name (`blk.0.attn_q.weight`). */
  readonly name: string;
  /** Dimensions in GGUF order: `shape[0]` is the contiguous row length (ggml ne[0]). */
  readonly shape: readonly number[];
  /** Storage type. */
  readonly type: GgmlTypeInfo;
  /** Number of elements (product of the shape). */
  readonly elements: number;
  /** Bytes of data. */
  readonly bytes: number;
  /** Absolute byte offset of the data in the file. */
  readonly fileOffset: number;
}

/** The parsed header of a GGUF file: everything but the tensor data itself. */
export interface GgufFile {
  readonly path: string;
  /** Size of the file in bytes. */
  readonly fileBytes: number;
  /** GGUF format version (2 or 3). */
  readonly version: number;
  /** Data alignment (`general.alignment`, 32 when absent). */
  readonly alignment: number;
  /** Absolute byte offset where tensor data starts. */
  readonly dataOffset: number;
  /** Metadata in file order. */
  readonly metadata: readonly GgufKv[];
  /** Tensor infos in file order. */
  readonly tensors: readonly GgufTensorInfo[];
}

/** Options of {@link readGguf}. */
export interface ReadGgufOptions {
  /**
   * Arrays longer than this keep only their first elements in `metadata` (the length is still
   * checked and reported through {@link ggufArrayLength}). Defaults to unlimited.
   */
  readonly maxArrayElements?: number;
}

/** GGML_MAX_DIMS. */
const MAX_DIMS = 4;
/*
 * Sanity limits far above any real model (which has < 10^4 tensors, < 10^3 keys, < 10^6 tokens):
 * a count beyond them is damage, not a big model, and must not make us read gigabytes first.
 */
const MAX_COUNT = 1 << 24;
const MAX_ARRAY_LENGTH = 2 ** 32;
const MAX_STRING_BYTES = 2 ** 30;
const CHUNK = 1 << 20;

/** Full length of arrays cut by `maxArrayElements`. */
const ARRAY_LENGTHS = new WeakMap<object, number>();

/** Real length of an array metadata value, even when {@link readGguf} kept only its first elements. */
export function ggufArrayLength(values: GgufArrayValues): number {
  return ARRAY_LENGTHS.get(values) ?? values.length;
}

/** Buffered little-endian reader over a file descriptor that reports where a file ends too early. */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;

  constructor(
    private readonly fd: number,
    readonly fileBytes: number,
    private readonly path: string,
  ) {}

  fail(code: ErrorCode, what: string, at = this.pos): never {
    throw new TokbenchError(code, `${this.path}: ${what} at byte ${at}`, {
      context: { path: this.path, offset: at },
    });
  }

  private ensure(n: number, what: string): number {
    const rel = this.pos - this.bufStart;
    if (rel + n <= this.buf.length) return rel;
    if (this.pos + n > this.fileBytes) {
      this.fail(
        "GGUF_TRUNCATED",
        `file ends (${this.fileBytes} bytes) inside ${what} of ${n} bytes starting`,
      );
    }
    const size = Math.min(Math.max(n, CHUNK), this.fileBytes - this.pos);
    const next = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const r = readSync(this.fd, next, got, size - got, this.pos + got);
      if (r === 0) break;
      got += r;
    }
    if (got < n) this.fail("GGUF_TRUNCATED", `file ends inside ${what}`);
    this.buf = next.subarray(0, got);
    this.bufStart = this.pos;
    return 0;
  }

  u8(what: string): number {
    const r = this.ensure(1, what);
    this.pos += 1;
    return this.buf.readUInt8(r);
  }
  u32(what: string): number {
    const r = this.ensure(4, what);
    this.pos += 4;
    return this.buf.readUInt32LE(r);
  }
  u64(what: string): number {
    const r = this.ensure(8, what);
    const v = this.buf.readBigUInt64LE(r);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail("GGUF_CORRUPT", `absurd ${what} ${v}`);
    this.pos += 8;
    return Number(v);
  }
  scalar(type: GgufScalarType, what: string): GgufScalar {
    if (type === "string") return this.str(what);
    const size = ggufScalarSize(type) as number;
    const r = this.ensure(size, what);
    this.pos += size;
    const b = this.buf;
    switch (type) {
      case "uint8":
        return b.readUInt8(r);
      case "int8":
        return b.readInt8(r);
      case "uint16":
        return b.readUInt16LE(r);
      case "int16":
        return b.readInt16LE(r);
      case "uint32":
        return b.readUInt32LE(r);
      case "int32":
        return b.readInt32LE(r);
      case "float32":
        return b.readFloatLE(r);
      case "float64":
        return b.readDoubleLE(r);
      case "bool":
        return b.readUInt8(r) !== 0;
      case "uint64":
        return safeNumber(b.readBigUInt64LE(r));
      case "int64":
        return safeNumber(b.readBigInt64LE(r));
    }
  }
  str(what: string): string {
    const start = this.pos;
    const len = this.u64(`${what} length`);
    if (len > MAX_STRING_BYTES) this.fail("GGUF_CORRUPT", `absurd ${what} length ${len}`, start);
    const r = this.ensure(len, what);
    this.pos += len;
    return this.buf.toString("utf8", r, r + len);
  }
}

function safeNumber(v: bigint): number | bigint {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
}

function valueType(c: Cursor, what: string): GgufScalarType | "array" {
  const at = c.pos;
  const id = c.u32(`${what} type`);
  const name = ggufValueTypeName(id);
  if (name === undefined) c.fail("GGUF_CORRUPT", `unknown metadata value type ${id} for ${what}`, at);
  return name;
}

function readKv(c: Cursor, index: number, maxArrayElements: number): GgufKv {
  const keyAt = c.pos;
  const key = c.str(`metadata key #${index}`);
  if (key.length === 0) c.fail("GGUF_CORRUPT", `empty metadata key #${index}`, keyAt);
  const type = valueType(c, `metadata "${key}"`);
  if (type !== "array") return { key, type, value: c.scalar(type, `metadata "${key}"`) };
  const elemAt = c.pos;
  const elementType = valueType(c, `array "${key}" element`);
  if (elementType === "array") c.fail("GGUF_UNSUPPORTED", `nested array in metadata "${key}"`, elemAt);
  const countAt = c.pos;
  const count = c.u64(`array "${key}" length`);
  if (count > MAX_ARRAY_LENGTH) c.fail("GGUF_CORRUPT", `absurd length ${count} of array "${key}"`, countAt);
  const minSize = ggufScalarSize(elementType) ?? 8;
  if (count * minSize > c.fileBytes - c.pos) {
    c.fail(
      "GGUF_TRUNCATED",
      `file ends (${c.fileBytes} bytes) inside array "${key}" of ${count} elements starting`,
      countAt,
    );
  }
  const kept = Math.min(count, maxArrayElements);
  const values: GgufScalar[] = new Array(kept);
  for (let i = 0; i < count; i++) {
    const v = c.scalar(elementType, `element ${i} of array "${key}"`);
    if (i < kept) values[i] = v;
  }
  if (kept < count) ARRAY_LENGTHS.set(values, count);
  return { key, type: "array", elementType, value: values };
}

/**
 * Parses a GGUF file's header, metadata and tensor infos without reading tensor data, validating
 * as llama.cpp does. Throws a TokbenchError with code GGUF_NOT_GGUF, GGUF_TRUNCATED, GGUF_CORRUPT or
 * GGUF_UNSUPPORTED whose one-line message names the file and the byte offset where it went wrong,
 * or FILE_NOT_FOUND / FILE_UNREADABLE.
 */
export async function readGguf(path: string, options: ReadGgufOptions = {}): Promise<GgufFile> {
  return readGgufSync(path, options);
}

/** Synchronous {@link readGguf}: reads only the header (metadata can be megabytes for big vocabularies). */
export function readGgufSync(path: string, options: ReadGgufOptions = {}): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code === "ENOENT" ? "FILE_NOT_FOUND" : "FILE_UNREADABLE";
    throw new TokbenchError(code, `cannot open ${path}: ${(error as Error).message}`, {
      cause: error,
      context: { path },
    });
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory())
      throw new TokbenchError("FILE_UNREADABLE", `${path} is a directory, not a GGUF file`);
    return parse(new Cursor(fd, stat.size, path), path, options.maxArrayElements ?? Number.POSITIVE_INFINITY);
  } finally {
    closeSync(fd);
  }
}

function parse(c: Cursor, path: string, maxArrayElements: number): GgufFile {
  if (c.fileBytes < 4)
    c.fail("GGUF_NOT_GGUF", `not a GGUF file: only ${c.fileBytes} bytes, no GGUF magic`, 0);
  const magic = c.u32("magic");
  if (magic !== GGUF_MAGIC) {
    const shown = Buffer.alloc(4);
    shown.writeUInt32LE(magic);
    c.fail(
      "GGUF_NOT_GGUF",
      `not a GGUF file: magic is ${JSON.stringify(shown.toString("latin1"))}, expected "GGUF"`,
      0,
    );
  }
  const version = c.u32("version");
  if (version === 1) c.fail("GGUF_UNSUPPORTED", "GGUF version 1 is obsolete (re-convert the model)", 4);
  if (version !== 2 && version !== 3) {
    const hint = (version & 0xffff) === 0 ? " (big-endian GGUF?)" : "";
    c.fail("GGUF_UNSUPPORTED", `unsupported GGUF version ${version}${hint}`, 4);
  }
  const tensorCount = c.u64("tensor count");
  if (tensorCount > MAX_COUNT) c.fail("GGUF_CORRUPT", `absurd tensor count ${tensorCount}`, 8);
  const kvCount = c.u64("metadata count");
  if (kvCount > MAX_COUNT) c.fail("GGUF_CORRUPT", `absurd metadata count ${kvCount}`, 16);

  const metadata: GgufKv[] = [];
  const keys = new Set<string>();
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  for (let i = 0; i < kvCount; i++) {
    const at = c.pos;
    const kv = readKv(c, i, maxArrayElements);
    if (keys.has(kv.key)) c.fail("GGUF_CORRUPT", `duplicate metadata key "${kv.key}"`, at);
    keys.add(kv.key);
    if (kv.key === "general.alignment") {
      const a = kv.value;
      if (kv.type !== "uint32" || typeof a !== "number" || a === 0 || (a & (a - 1)) !== 0) {
        c.fail("GGUF_CORRUPT", `general.alignment must be a power-of-two uint32, got ${String(a)}`, at);
      }
      alignment = a as number;
    }
    metadata.push(kv);
  }

  const infos: { name: string; shape: number[]; type: GgmlTypeInfo; offset: number; at: number }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = c.pos;
    const name = c.str(`name of tensor #${i}`);
    if (names.has(name)) c.fail("GGUF_CORRUPT", `duplicate tensor name "${name}"`, at);
    names.add(name);
    const dimsAt = c.pos;
    const nDims = c.u32(`dimension count of tensor "${name}"`);
    if (nDims > MAX_DIMS)
      c.fail("GGUF_CORRUPT", `tensor "${name}" has ${nDims} dimensions (max ${MAX_DIMS})`, dimsAt);
    const shape: number[] = [];
    let elements = 1;
    for (let d = 0; d < nDims; d++) {
      const dAt = c.pos;
      const n = c.u64(`dimension ${d} of tensor "${name}"`);
      elements *= n;
      if (elements > Number.MAX_SAFE_INTEGER)
        c.fail("GGUF_CORRUPT", `tensor "${name}" has an absurd element count`, dAt);
      shape.push(n);
    }
    const typeAt = c.pos;
    const typeId = c.u32(`type of tensor "${name}"`);
    const type = ggmlTypeById(typeId);
    if (type === undefined) {
      // Ids just past the known ones are probably a newer ggml; far beyond, the file is damaged.
      const code = typeId < 64 ? "GGUF_UNSUPPORTED" : "GGUF_CORRUPT";
      c.fail(code, `unknown ggml type id ${typeId} of tensor "${name}"`, typeAt);
    }
    if ((shape[0] ?? 1) % type.blockSize !== 0) {
      c.fail(
        "GGUF_CORRUPT",
        `tensor "${name}" row length ${shape[0]} is not a multiple of ${type.name} block size ${type.blockSize}`,
        dimsAt,
      );
    }
    const offAt = c.pos;
    const offset = c.u64(`data offset of tensor "${name}"`);
    if (offset % alignment !== 0)
      c.fail(
        "GGUF_CORRUPT",
        `data offset ${offset} of tensor "${name}" is not aligned to ${alignment}`,
        offAt,
      );
    infos.push({ name, shape, type, offset, at });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const tensors: GgufTensorInfo[] = infos.map((t) => {
    const elements = t.shape.reduce((a, b) => a * b, 1);
    const bytes = (elements / t.type.blockSize) * t.type.typeSize;
    const fileOffset = dataOffset + t.offset;
    if (fileOffset + bytes > c.fileBytes) {
      c.fail(
        "GGUF_TRUNCATED",
        `data of tensor "${t.name}" (${bytes} bytes at byte ${fileOffset}) runs past the end of the file (${c.fileBytes} bytes); tensor info`,
        t.at,
      );
    }
    return { name: t.name, shape: t.shape, type: t.type, elements, bytes, fileOffset };
  });
  return { path, fileBytes: c.fileBytes, version, alignment, dataOffset, metadata, tensors };
}

/** The metadata entry of `key`, or undefined. */
export function ggufMetadata(file: GgufFile, key: string): GgufKv | undefined {
  return file.metadata.find((kv) => kv.key === key);
}
