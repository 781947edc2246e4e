/*
 * Test fixture, not a test: the straightforward transcription of ggml's `quantize_row_*_ref` that
 * tokbench shipped first (float compares, one branch per sign). The fast encoders of
 * src/gguf/quantizeRow.ts must produce exactly these bytes, so synthetic files never change.
 */
import { f32BitsToBf16Bits, f32BitsToHalfBits, floatToHalfBits } from "../../src/gguf/halfFloat.js";
import type { RowEncoder } from "../../src/gguf/quantizeRow.js";

/** Stores the f16 of `value` little-endian. */
function putHalf(out: Uint8Array, offset: number, value: number): void {
  const h = floatToHalfBits(value);
  out[offset] = h & 0xff;
  out[offset + 1] = h >>> 8;
}

const encodeF32: RowEncoder = (src, count, out, outOffset) => {
  const bytes = new Uint8Array(src.buffer, src.byteOffset, count * 4);
  out.set(bytes, outOffset);
};

const encodeF16: RowEncoder = (src, count, out, outOffset) => {
  const bits = new Uint32Array(src.buffer, src.byteOffset, count);
  let o = outOffset;
  for (let i = 0; i < count; i++) {
    const h = f32BitsToHalfBits(bits[i] as number);
    out[o++] = h & 0xff;
    out[o++] = h >>> 8;
  }
};

const encodeBf16: RowEncoder = (src, count, out, outOffset) => {
  const bits = new Uint32Array(src.buffer, src.byteOffset, count);
  let o = outOffset;
  for (let i = 0; i < count; i++) {
    const h = f32BitsToBf16Bits(bits[i] as number);
    out[o++] = h & 0xff;
    out[o++] = h >>> 8;
  }
};

const encodeQ8_0: RowEncoder = (src, count, out, outOffset) => {
  let o = outOffset;
  for (let b = 0; b < count; b += 32) {
    let amax = 0;
    for (let j = b; j < b + 32; j++) {
      const v = src[j] as number;
      const a = v < 0 ? -v : v;
      if (a > amax) amax = a;
    }
    const d = amax / 127;
    const id = d !== 0 ? 1 / d : 0;
    putHalf(out, o, d);
    o += 2;
    for (let j = b; j < b + 32; j++) {
      const x = (src[j] as number) * id;
      // roundf: halves away from zero; |x| <= 127 so int32 truncation is exact.
      out[o++] = (x < 0 ? x - 0.5 : x + 0.5) | 0;
    }
  }
};

/** Signed value of largest magnitude in a block (ggml scales by it so its sign maps to -8 / -16). */
function signedMax(src: Float32Array, start: number, n: number): number {
  let amax = 0;
  let max = 0;
  for (let j = start; j < start + n; j++) {
    const v = src[j] as number;
    const a = v < 0 ? -v : v;
    if (a > amax) {
      amax = a;
      max = v;
    }
  }
  return max;
}

const encodeQ4_0: RowEncoder = (src, count, out, outOffset) => {
  let o = outOffset;
  for (let b = 0; b < count; b += 32) {
    const d = signedMax(src, b, 32) / -8;
    const id = d !== 0 ? 1 / d : 0;
    putHalf(out, o, d);
    o += 2;
    for (let j = b; j < b + 16; j++) {
      // The operands are >= 0.5 here, so `| 0` is the C cast's truncation.
      let x0 = ((src[j] as number) * id + 8.5) | 0;
      let x1 = ((src[j + 16] as number) * id + 8.5) | 0;
      if (x0 > 15) x0 = 15;
      if (x1 > 15) x1 = 15;
      out[o++] = x0 | (x1 << 4);
    }
  }
};

function minMax(src: Float32Array, start: number, n: number): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let j = 0; j < n; j++) {
    const v = src[start + j] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

const encodeQ4_1: RowEncoder = (src, count, out, outOffset) => {
  let o = outOffset;
  for (let b = 0; b < count; b += 32) {
    const [min, max] = minMax(src, b, 32);
    const d = (max - min) / 15;
    const id = d !== 0 ? 1 / d : 0;
    putHalf(out, o, d);
    putHalf(out, o + 2, min);
    o += 4;
    for (let j = 0; j < 16; j++) {
      const x0 = Math.min(15, Math.trunc(((src[b + j] as number) - min) * id + 0.5));
      const x1 = Math.min(15, Math.trunc(((src[b + j + 16] as number) - min) * id + 0.5));
      out[o++] = x0 | (x1 << 4);
    }
  }
};

function writeU32(out: Uint8Array, o: number, v: number): void {
  out[o] = v & 0xff;
  out[o + 1] = (v >>> 8) & 0xff;
  out[o + 2] = (v >>> 16) & 0xff;
  out[o + 3] = (v >>> 24) & 0xff;
}

const encodeQ5_0: RowEncoder = (src, count, out, outOffset) => {
  let o = outOffset;
  for (let b = 0; b < count; b += 32) {
    const d = signedMax(src, b, 32) / -16;
    const id = d !== 0 ? 1 / d : 0;
    putHalf(out, o, d);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const x0 = Math.min(31, Math.trunc((src[b + j] as number) * id + 16.5));
      const x1 = Math.min(31, Math.trunc((src[b + j + 16] as number) * id + 16.5));
      out[o + 6 + j] = (x0 & 0xf) | ((x1 & 0xf) << 4);
      qh |= ((x0 & 0x10) >>> 4) << j;
      qh |= ((x1 & 0x10) >>> 4) << (j + 16);
    }
    writeU32(out, o + 2, qh >>> 0);
    o += 22;
  }
};

const encodeQ5_1: RowEncoder = (src, count, out, outOffset) => {
  let o = outOffset;
  for (let b = 0; b < count; b += 32) {
    const [min, max] = minMax(src, b, 32);
    const d = (max - min) / 31;
    const id = d !== 0 ? 1 / d : 0;
    putHalf(out, o, d);
    putHalf(out, o + 2, min);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const x0 = Math.trunc(((src[b + j] as number) - min) * id + 0.5);
      const x1 = Math.trunc(((src[b + j + 16] as number) - min) * id + 0.5);
      out[o + 8 + j] = (x0 & 0xf) | ((x1 & 0xf) << 4);
      qh |= ((x0 & 0x10) >>> 4) << j;
      qh |= ((x1 & 0x10) >>> 4) << (j + 16);
    }
    writeU32(out, o + 4, qh >>> 0);
    o += 24;
  }
};

const ENCODERS: Readonly<Record<string, RowEncoder>> = {
  F32: encodeF32,
  F16: encodeF16,
  BF16: encodeBf16,
  Q8_0: encodeQ8_0,
  Q4_0: encodeQ4_0,
  Q4_1: encodeQ4_1,
  Q5_0: encodeQ5_0,
  Q5_1: encodeQ5_1,
};

/** The reference encoder of a ggml type name. */
export function referenceEncoderFor(typeName: string): RowEncoder | undefined {
  return ENCODERS[typeName];
}
