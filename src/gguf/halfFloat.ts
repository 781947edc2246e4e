const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * IEEE-754 binary16 bits of `value`, rounded to nearest-even, with overflow to infinity,
 * subnormals and NaN handled as ggml's `GGML_FP32_TO_FP16` does.
 */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  return f32BitsToHalfBits(u32[0] as number);
}

/** binary16 bits of the float32 whose raw bits are `x` (the hot path of bulk conversion). */
export function f32BitsToHalfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1) === 1) ? 1 : 0));
  }
  const rem = mant & 0x1fff;
  let half = (e << 10) | (mant >>> 13);
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  e = half;
  return sign | e;
}

/** The number that binary16 bits `h` represent. */
export function halfBitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits of the float32 whose raw bits are `x`, rounded to nearest-even like ggml. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 64) & 0xffff;
  return ((x + (0x7fff + ((x >>> 16) & 1))) >>> 16) & 0xffff;
}
