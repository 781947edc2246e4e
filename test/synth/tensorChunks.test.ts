import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { ggmlTypeByName } from "../../src/gguf/GgmlType.js";
import { rowEncoderFor } from "../../src/gguf/quantizeRow.js";
import type { PlannedTensor } from "../../src/synth/planTensors.js";
import { planTensors } from "../../src/synth/planTensors.js";
import { resolveShape, storageType } from "../../src/synth/synthesizeModel.js";
import type { SynthType } from "../../src/synth/synthTypes.js";
import {
  SYNTH_CHUNK_ELEMENTS,
  tensorChunkCount,
  tensorChunkJobs,
  tensorChunks,
  tensorSeed,
  xorshift32Advance,
} from "../../src/synth/tensorChunks.js";

function step(state: number, n: number): number {
  let s = state | 0;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
  }
  return s;
}

/** Copies each chunk as it comes: the producer reuses its buffer for the next one. */
function concat(chunks: Iterable<Uint8Array>): Buffer {
  const copies: Buffer[] = [];
  for (const chunk of chunks) copies.push(Buffer.from(chunk));
  return Buffer.concat(copies);
}

describe("xorshift32Advance", () => {
  it("equals stepping the generator one value at a time", () => {
    for (const state of [1, -1, 0x6d2b79f5, -2147483648, tensorSeed(7, "blk.0.attn_q.weight")]) {
      for (const n of [0, 1, 2, 31, 1000, 65537, SYNTH_CHUNK_ELEMENTS]) {
        assert.equal(xorshift32Advance(state, n), step(state, n), `state ${state}, ${n} steps`);
      }
    }
  });
});

describe("tensorChunks", () => {
  it("equals one straight pass of the stream over a tensor of several chunks", () => {
    const tensor: PlannedTensor = {
      name: "blk.3.ffn_up.weight",
      shape: [256, (SYNTH_CHUNK_ELEMENTS * 2.5) / 256],
      quantizable: true,
      init: { kind: "uniform", scale: 0.03 },
    };
    assert.equal(tensorChunkCount(tensor), 3);
    for (const name of ["F32", "Q4_0"]) {
      const type = ggmlTypeByName(name);
      assert.ok(type);
      const n = SYNTH_CHUNK_ELEMENTS * 2.5;
      const values = new Float32Array(n);
      let s = tensorSeed(5, tensor.name);
      for (let i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        values[i] = s * (0.03 / 2147483648);
      }
      const expected = new Uint8Array((n / type.blockSize) * type.typeSize);
      rowEncoderFor(name)?.(values, n, expected, 0);
      const jobs = [...tensorChunkJobs(tensor, type, 5)];
      assert.deepEqual(
        jobs.map((j) => j.elements),
        [SYNTH_CHUNK_ELEMENTS, SYNTH_CHUNK_ELEMENTS, SYNTH_CHUNK_ELEMENTS / 2],
      );
      assert.ok(concat(tensorChunks(tensor, type, 5)).equals(expected), name);
    }
  });

  it("keeps the bytes tokbench has always written (sha-256 of every tensor of a preset)", () => {
    // Computed by the first, one-value-at-a-time implementation: synthetic files must not change
    // between versions, whoever encodes them and however fast.
    const golden: [string, SynthType, number, string][] = [
      ["tiny", "q4_0", 1, "95c44c897c6bcd5ba722df0e8d88745239269de161da4081a055e30538233519"],
      ["tiny", "q8_0", 2, "c007bd3534a2dc8e0234a2ee3d44a851ba5441439a3edc6d007a003a4734520e"],
      ["tiny", "f16", 3, "27abc51bc37a9b629b9f695ede72d192e868d6cfbbcf49d8628312d9c4cfa29c"],
      ["tiny-moe", "q5_0", 4, "8091663c369b315b9993e39df0b6a37ab139785b7ac522849d6370cefc1cde5b"],
      ["tiny", "bf16", 5, "2b64ecd50e45d5712269e98158570c7a0d29d782b735dec401982303912c1d65"],
    ];
    for (const [preset, type, seed, sha] of golden) {
      const hash = createHash("sha256");
      for (const tensor of planTensors(resolveShape(preset))) {
        for (const chunk of tensorChunks(tensor, storageType(tensor, type), seed)) hash.update(chunk);
      }
      assert.equal(hash.digest("hex"), sha, `${preset} ${type} seed ${seed}`);
    }
  });
});
