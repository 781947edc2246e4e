import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { estimateModelMemory, modelMemoryFacts } from "../../src/gguf/estimateModelMemory.js";
import { inspectModel } from "../../src/gguf/inspectModel.js";
import { checkMemoryFit } from "../../src/servers/checkMemoryFit.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";

describe("the memory pre-check", () => {
  let dir: string;
  let model: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-fit-"));
    model = join(dir, "tiny.gguf");
    await synthesizeModel({ preset: "tiny", type: "q4_0", out: model });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("counts weights and the KV cache of ctx x types from the GGUF, as the model lab does", async () => {
    const inspection = await inspectModel(model);
    const facts = modelMemoryFacts(inspection);
    // tiny: 4 layers, 4 KV heads of 32: K and V are 512 elements per token each.
    assert.equal(facts.k_elements_per_token, 512);
    assert.equal(facts.v_elements_per_token, 512);
    assert.equal(facts.weights_bytes, inspection.tensor_bytes);
    const f16 = estimateModelMemory(facts, {
      kv_cells: 4096,
      type_k: "f16",
      type_v: "f16",
      ubatch_size: 512,
    });
    assert.equal(f16.kv_cache_bytes, 4096 * 1024 * 2);
    assert.equal(f16.kv_cache_bytes, inspection.kv_cache.bytes_per_token * 4096);
    const q8 = estimateModelMemory(facts, {
      kv_cells: 4096,
      type_k: "q8_0",
      type_v: "q8_0",
      ubatch_size: 512,
    });
    assert.equal(q8.kv_cache_bytes, Math.round(4096 * 1024 * (34 / 32)));
  });

  it("marks a configuration over the budget as not fitting, with the figures", async () => {
    const facts = modelMemoryFacts(await inspectModel(model));
    const available = { ram_bytes: 64 * 2 ** 30, gpu_free_bytes: [] };
    const input = { kv_cells: 262_144, type_k: "f16", type_v: "f16", ubatch_size: 512, gpu_layers: 0 };
    const over = checkMemoryFit(facts, input, available, 256 * 2 ** 20);
    assert.equal(over.fits, false);
    assert.equal(over.available_source, "budget");
    assert.match(
      over.reason ?? "",
      /KV cache 512 MiB for 262144 cells of f16\/f16\), 256 MiB in the memory budget/,
    );
    assert.equal(checkMemoryFit(facts, { ...input, kv_cells: 4096 }, available, 256 * 2 ** 20).fits, true);
    assert.equal(checkMemoryFit(facts, input, available, null).fits, true);
    assert.equal(checkMemoryFit(facts, input, { ram_bytes: 2 ** 20, gpu_free_bytes: [] }, null).fits, false);
  });
});
