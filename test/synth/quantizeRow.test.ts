import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { f32BitsToBf16Bits, floatToHalfBits, halfBitsToFloat } from "../../src/gguf/halfFloat.js";
import { rowEncoderFor } from "../../src/gguf/quantizeRow.js";
import { referenceEncoderFor } from "./referenceEncoders.js";

function block(seed: number): Float32Array {
  const x = new Float32Array(32);
  let s = seed;
  for (let i = 0; i < 32; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    x[i] = (s / 2147483648 - 0.5) * 0.2;
  }
  return x;
}

describe("halfFloat", () => {
  it("converts known values like IEEE binary16 round-to-nearest-even", () => {
    assert.equal(floatToHalfBits(1), 0x3c00);
    assert.equal(floatToHalfBits(-2), 0xc000);
    assert.equal(floatToHalfBits(65504), 0x7bff);
    assert.equal(floatToHalfBits(65520), 0x7c00);
    assert.equal(floatToHalfBits(0.1), 0x2e66);
    assert.equal(floatToHalfBits(2 ** -24), 0x0001);
    assert.equal(floatToHalfBits(2 ** -26), 0);
    assert.equal(floatToHalfBits(1 + 2 ** -11), 0x3c00, "tie rounds to even");
    assert.equal(halfBitsToFloat(0x2e66), 0.0999755859375);
    assert.equal(f32BitsToBf16Bits(0x3f800000), 0x3f80);
  });
});

describe("row encoders", () => {
  it("Q8_0 stores amax/127 and rounded int8 values that decode within half a step", () => {
    const x = block(1);
    const out = new Uint8Array(34);
    rowEncoderFor("Q8_0")?.(x, 32, out, 0);
    const d = halfBitsToFloat((out[0] as number) | ((out[1] as number) << 8));
    const amax = Math.max(...Array.from(x, Math.abs));
    assert.ok(Math.abs(d - amax / 127) <= (amax / 127) * 1e-3);
    for (let i = 0; i < 32; i++) {
      const q = ((out[2 + i] as number) << 24) >> 24;
      assert.ok(Math.abs(q * d - (x[i] as number)) <= d / 2 + 1e-6, `element ${i}`);
    }
  });

  it("Q4_0 packs element j and j+16 in one byte and decodes within one step (the far end clamps)", () => {
    const x = block(2);
    const out = new Uint8Array(18);
    rowEncoderFor("Q4_0")?.(x, 32, out, 0);
    const d = halfBitsToFloat((out[0] as number) | ((out[1] as number) << 8));
    for (let j = 0; j < 16; j++) {
      const byte = out[2 + j] as number;
      assert.ok(Math.abs(((byte & 0xf) - 8) * d - (x[j] as number)) <= Math.abs(d) * 1.001);
      assert.ok(Math.abs(((byte >> 4) - 8) * d - (x[j + 16] as number)) <= Math.abs(d) * 1.001);
    }
  });

  it("Q5_0 and Q4_1 decode within one step", () => {
    const x = block(3);
    const q5 = new Uint8Array(22);
    rowEncoderFor("Q5_0")?.(x, 32, q5, 0);
    const d5 = halfBitsToFloat((q5[0] as number) | ((q5[1] as number) << 8));
    const qh =
      (q5[2] as number) | ((q5[3] as number) << 8) | ((q5[4] as number) << 16) | ((q5[5] as number) << 24);
    for (let j = 0; j < 16; j++) {
      const lo = ((q5[6 + j] as number) & 0xf) | (((qh >>> j) & 1) << 4);
      const hi = ((q5[6 + j] as number) >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      assert.ok(Math.abs((lo - 16) * d5 - (x[j] as number)) <= Math.abs(d5) * 1.001);
      assert.ok(Math.abs((hi - 16) * d5 - (x[j + 16] as number)) <= Math.abs(d5) * 1.001);
    }
    const q41 = new Uint8Array(20);
    rowEncoderFor("Q4_1")?.(x, 32, q41, 0);
    const d = halfBitsToFloat((q41[0] as number) | ((q41[1] as number) << 8));
    const m = halfBitsToFloat((q41[2] as number) | ((q41[3] as number) << 8));
    for (let j = 0; j < 16; j++) {
      assert.ok(Math.abs(((q41[4 + j] as number) & 0xf) * d + m - (x[j] as number)) <= d * 0.52 + 1e-4);
    }
  });
});

describe("fast encoders", () => {
  const TYPES = ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"];
  const blockBytes: Record<string, number> = { Q8_0: 34, Q4_0: 18, Q4_1: 20, Q5_0: 22, Q5_1: 24 };

  /** Inputs that stress every branch the fast paths removed: signs, ties, zeros, NaN, half edges. */
  function inputs(): [string, Float32Array][] {
    const n = 4096;
    let s = 0x2545f491;
    const next = (): number => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    const values = (f: () => number): Float32Array => Float32Array.from({ length: n }, f);
    const bits = (f: () => number): Float32Array =>
      new Float32Array(Uint32Array.from({ length: n }, f).buffer);
    return [
      ["synthetic uniform", values(() => (next() | 0) * (0.02 / 2147483648))],
      ["any bits (NaN, inf, subnormals)", bits(next)],
      ["ties of magnitude across signs", values(() => ((next() % 9) - 4) * 0.25)],
      ["zeros and -0", values(() => (next() % 2 === 0 ? -0 : next() % 64 === 0 ? 1e-7 : 0))],
      [
        "around the f16 normal range ends",
        bits(() => (next() & 0x80000000) | (0x33000000 + (next() % 0x15000000))),
      ],
      ["beyond the f16 range", values(() => ((next() | 0) / 2147483648) * 70000)],
    ];
  }

  it("produce exactly the bytes of the reference transcription of ggml, for every type and input", () => {
    for (const [name, x] of inputs()) {
      for (const type of TYPES) {
        const size = x.length * 4 + 8;
        const fast = new Uint8Array(size);
        const ref = new Uint8Array(size);
        // An odd output offset: the fast paths must not assume alignment.
        rowEncoderFor(type)?.(x, x.length, fast, 3);
        referenceEncoderFor(type)?.(x, x.length, ref, 3);
        assert.ok(
          ref.some((v) => v !== 0),
          `${type} ${name}: reference wrote nothing`,
        );
        const at = fast.findIndex((v, i) => v !== ref[i]);
        const block = blockBytes[type];
        assert.equal(
          at,
          -1,
          `${type} ${name}: first differing byte ${at} (block ${block ? Math.floor((at - 3) / block) : "-"})`,
        );
      }
    }
  });

  it("encode a subarray view (non-zero byteOffset) like a copy of it", () => {
    const backing = new Float32Array(32 * 5);
    for (let i = 0; i < backing.length; i++) backing[i] = Math.sin(i) * 0.1;
    const view = backing.subarray(32, 32 * 4);
    const copy = new Float32Array(view);
    for (const type of TYPES) {
      const a = new Uint8Array(96 * 4);
      const b = new Uint8Array(96 * 4);
      rowEncoderFor(type)?.(view, 96, a, 0);
      rowEncoderFor(type)?.(copy, 96, b, 0);
      assert.deepEqual(a, b, type);
    }
  });
});
