import { f32BitsToBf16Bits, f32BitsToHalfBits, floatToHalfBits } from "./halfFloat.js";

/**
 * Encodes `count` float32 values of `src` (a whole number of blocks) as ggml blocks into `out`
 * at `outOffset`. The layouts and rounding follow ggml's reference `quantize_row_*_ref`.
 */
export type RowEncoder = (src: Float32Array, count: number, out: Uint8Array, outOffset: number) => void;

/** Stores the f16 of `value` little-endian. */
function putHalf(out: Uint8Array, offset: number, value: number): void {
  const h = floatToHalfBits(value);
  out[offset] = h & 0xff;
  out[offset + 1] = h >>> 8;
}

/**
 * The raw bits of `src`'s first `count` floats. The hot loops work on bits because integer
 * compares and masks compile without branches, while float `abs`/compare chains mispredict on
 * random signs (that alone made the encoders several times slower).
 */
function bitsOf(src: Float32Array, count: number): Int32Array {
  return new Int32Array(src.buffer, src.byteOffset, count);
}

/** Bits of the float of largest magnitude in `bits[start..start+32)` with the sign cleared. */
function absMaxBits(bits: Int32Array, start: number): number {
  // Four running maxima: one would serialize the block on the latency of max. Sign-cleared bits
  // order like the magnitudes they encode, and integer max compiles without a branch.
  let m0 = 0;
  let m1 = 0;
  let m2 = 0;
  let m3 = 0;
  for (let j = start; j < start + 32; j += 4) {
    m0 = Math.max(m0, (bits[j] as number) & 0x7fffffff);
    m1 = Math.max(m1, (bits[j + 1] as number) & 0x7fffffff);
    m2 = Math.max(m2, (bits[j + 2] as number) & 0x7fffffff);
    m3 = Math.max(m3, (bits[j + 3] as number) & 0x7fffffff);
  }
  return Math.max(Math.max(m0, m1), Math.max(m2, m3));
}

/** Bits above +infinity's are NaNs: ggml's float compares skip them; the exact slow path does too. */
const F32_INF_BITS = 0x7f800000;

const scratchF32 = new Float32Array(1);
const scratchI32 = new Int32Array(scratchF32.buffer);

function floatOfBits(bits: number): number {
  scratchI32[0] = bits;
  return scratchF32[0] as number;
}

const encodeF32: RowEncoder = (src, count, out, outOffset) => {
  const bytes = new Uint8Array(src.buffer, src.byteOffset, count * 4);
  out.set(bytes, outOffset);
};

/** f32 bits of 2^-14 (smallest normal half) and of 65536 (first value past the normal halves). */
const HALF_NORMAL_MIN_BITS = 0x38800000;
const HALF_NORMAL_END_BITS = 0x47800000;

const encodeF16: RowEncoder = (src, count, out, outOffset) => {
  const bits = bitsOf(src, count);
  let o = outOffset;
  for (let i = 0; i < count; i++) {
    const x = bits[i] as number;
    const abs = x & 0x7fffffff;
    let h: number;
    if (abs >= HALF_NORMAL_MIN_BITS && abs < HALF_NORMAL_END_BITS) {
      // Rebias the exponent and round to nearest-even by carry: adding 0xfff plus the kept lsb
      // carries into bit 13 exactly when the dropped bits exceed half, or equal it on an odd lsb;
      // a carry out of the top mantissa becomes the next exponent (infinity at the top), as in ggml.
      h = ((x >>> 16) & 0x8000) | ((abs - 0x38000000 + 0xfff + ((abs >>> 13) & 1)) >>> 13);
    } else {
      h = f32BitsToHalfBits(x >>> 0);
    }
    out[o++] = h & 0xff;
    out[o++] = h >>> 8;
  }
};

const encodeBf16: RowEncoder = (src, count, out, outOffset) => {
  const bits = bitsOf(src, count);
  let o = outOffset;
  for (let i = 0; i < count; i++) {
    const h = f32BitsToBf16Bits((bits[i] as number) >>> 0);
    out[o++] = h & 0xff;
    out[o++] = h >>> 8;
  }
};

/** ggml's reference Q8_0 block, float compares and all: the path for blocks holding a NaN. */
function encodeQ8_0BlockRef(src: Float32Array, b: number, out: Uint8Array, o: number): void {
  let amax = 0;
  for (let j = b; j < b + 32; j++) {
    const v = src[j] as number;
    const a = v < 0 ? -v : v;
    if (a > amax) amax = a;
  }
  const d = amax / 127;
  const id = d !== 0 ? 1 / d : 0;
  putHalf(out, o, d);
  for (let j = b; j < b + 32; j++) {
    const x = (src[j] as number) * id;
    out[o + 2 + j - b] = (x < 0 ? x - 0.5 : x + 0.5) | 0;
  }
}

const encodeQ8_0: RowEncoder = (src, count, out, outOffset) => {
  const bits = bitsOf(src, count);
  let o = outOffset;
  for (let b = 0; b < count; b += 32, o += 34) {
    const amaxBits = absMaxBits(bits, b);
    if (amaxBits > F32_INF_BITS) {
      encodeQ8_0BlockRef(src, b, out, o);
      continue;
    }
    const d = floatOfBits(amaxBits) / 127;
    const id = d !== 0 ? 1 / d : 0;
    putHalf(out, o, d);
    let p = o + 2;
    for (let j = b; j < b + 32; j++) {
      // roundf (halves away from zero) without a branch on the sign: round |x|, then negate
      // through the sign mask of the source (id >= 0, so x has the source's sign). |x| <= 127.
      const q = (Math.abs((src[j] as number) * id) + 0.5) | 0;
      const m = (bits[j] as number) >> 31;
      out[p++] = (q ^ m) - m;
    }
  }
};

/** ggml's reference signed max with float compares (NaNs never win): the slow path for NaN blocks. */
function signedMaxRef(src: Float32Array, start: number, n: number): number {
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

/**
 * Signed value of largest magnitude in the block `src[start..start+32)`, the first one on ties
 * (ggml scales by it so its sign maps to -8 / -16).
 */
function signedMax(src: Float32Array, bits: Int32Array, start: number): number {
  const amax = absMaxBits(bits, start);
  if (amax > F32_INF_BITS) return signedMaxRef(src, start, 32);
  // ggml starts from max = 0, so an all-zero block (even of -0s) has max +0.
  if (amax === 0) return 0;
  let j = start;
  while (((bits[j] as number) & 0x7fffffff) !== amax) j++;
  return src[j] as number;
}

const encodeQ4_0: RowEncoder = (src, count, out, outOffset) => {
  const bits = bitsOf(src, count);
  let o = outOffset;
  for (let b = 0; b < count; b += 32) {
    const d = signedMax(src, bits, b) / -8;
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
  const bits = bitsOf(src, count);
  for (let b = 0; b < count; b += 32) {
    const d = signedMax(src, bits, b) / -16;
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

/** The encoder of a ggml type name, or undefined when tokbench cannot write that type. */
export function rowEncoderFor(typeName: string): RowEncoder | undefined {
  return ENCODERS[typeName];
}
