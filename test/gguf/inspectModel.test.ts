import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inspectModel } from "../../src/gguf/inspectModel.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { SYNTH_TYPES } from "../../src/synth/synthTypes.js";

/** Bytes per element of each type, written out by hand from ggml's block structs. */
const BYTES_PER_ELEMENT: Record<string, number> = {
  f32: 4,
  f16: 2,
  bf16: 2,
  q8_0: 34 / 32,
  q5_1: 24 / 32,
  q5_0: 22 / 32,
  q4_1: 20 / 32,
  q4_0: 18 / 32,
};

// tiny with 2 layers: embd 256, vocab 4096, heads 8 × 32, kv heads 4, ffn 768, untied.
const E = 256;
const V = 4096;
const L = 2;
const matrices = 2 * V * E + L * (E * 256 + 2 * E * 128 + 256 * E + 3 * E * 768);
const vectors = L * 2 * E + E;

describe("inspectModel", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-inspect-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const type of SYNTH_TYPES) {
    it(`counts parameters and bytes of a ${type} model exactly`, async () => {
      const out = join(dir, `tiny-${type}.gguf`);
      await synthesizeModel({ preset: "tiny", type, out, shape: { blockCount: L } });
      const m = await inspectModel(out);
      assert.equal(m.parameters, matrices + vectors);
      const expectedBytes = matrices * (BYTES_PER_ELEMENT[type] as number) + vectors * 4;
      assert.equal(m.tensor_bytes, expectedBytes);
      assert.equal(m.file_bytes, (await stat(out)).size);
      assert.ok(m.file_bytes >= m.data_offset_bytes + m.tensor_bytes);
      assert.equal(
        m.tensors.reduce((s, t) => s + t.bytes, 0),
        expectedBytes,
      );
      assert.equal(m.compression.ratio_vs_f16, ((matrices + vectors) * 2) / expectedBytes);
      const q = m.quantization_mix.find((x) => x.type === type.toUpperCase());
      assert.equal(q?.parameters, type === "f32" ? matrices + vectors : matrices);
      assert.equal(m.layers.length, L);
      assert.equal(m.hyperparameters.head_count_kv, 4);
      // KV: 2 layers × 4 kv heads × (32 + 32) × 2 bytes (f16).
      assert.equal(m.kv_cache.bytes_per_token, L * 4 * 64 * 2);
      // Untied: the whole output matrix plus one embedding row per token.
      const row = E * (BYTES_PER_ELEMENT[type] as number);
      assert.equal(m.bytes_per_token.embedding_row_bytes, row);
      assert.equal(m.bytes_per_token.total_bytes, expectedBytes - V * row + row);
      assert.equal(m.bytes_per_token.expert_total_bytes, 0);
    });
  }

  it("counts only the routed experts and one embedding row of a MoE model", async () => {
    const out = join(dir, "moe.gguf");
    const r = await synthesizeModel({ preset: "tiny-moe", type: "q8_0", out });
    const m = await inspectModel(out, { contextLength: 1000, kvType: "q8_0" });
    // tiny-moe: 2 layers, 8 experts of ffn 128, 2 active; q8_0 = 34 bytes / 32 elements.
    const expertBytes = 2 * 3 * 256 * 128 * 8 * (34 / 32);
    assert.equal(m.bytes_per_token.expert_total_bytes, expertBytes);
    assert.equal(m.bytes_per_token.expert_active_bytes, expertBytes * (2 / 8));
    assert.equal(m.bytes_per_token.embedding_row_bytes, 256 * (34 / 32));
    assert.equal(
      m.bytes_per_token.total_bytes,
      m.tensor_bytes - expertBytes * (6 / 8) - 4095 * 256 * (34 / 32),
    );
    assert.equal(m.parameters, r.parameters);
    assert.equal(m.kv_cache.type, "Q8_0");
    assert.equal(m.kv_cache.bytes_per_token, 2 * 4 * 64 * (34 / 32));
    assert.equal(m.kv_cache.bytes_at_context, 1000 * m.kv_cache.bytes_per_token);
    assert.equal(m.tensors.find((t) => t.name === "blk.0.ffn_gate_inp.weight")?.type, "F32");
  });

  it("reads the tied output matrix in full for a tied model", async () => {
    const out = join(dir, "tied.gguf");
    await synthesizeModel({
      preset: "tiny",
      type: "f16",
      out,
      shape: { blockCount: 1, tiedEmbeddings: true },
    });
    const m = await inspectModel(out);
    assert.equal(
      m.tensors.some((t) => t.name === "output.weight"),
      false,
    );
    assert.equal(m.bytes_per_token.total_bytes, m.tensor_bytes + 256 * 2);
  });
});
