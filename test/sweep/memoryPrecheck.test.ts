import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { prepareMemoryPrecheck } from "../../src/sweep/memoryPrecheck.js";
import type { SweepSpec } from "../../src/sweep/SweepSpec.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";

describe("prepareMemoryPrecheck", () => {
  let dir: string;
  let model: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-precheck-"));
    model = join(dir, "tiny.gguf");
    await synthesizeModel({ preset: "tiny", type: "q8_0", seed: 1, out: model });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("parses each model file once and hands the parse on (to the embedded launcher)", async () => {
    const missing = join(dir, "missing.gguf");
    const spec = {
      provider: "embedded",
      knob_axes: [{ name: "model", values: [model, missing] }],
      workload: { prompt_tokens: [16], max_tokens: [8] },
    } as unknown as SweepSpec;
    const precheck = await prepareMemoryPrecheck(spec, {
      available: async () => ({ ram_bytes: 2 ** 40, gpu_free_bytes: [] }),
    });
    const file = precheck.file(model);
    assert.ok(file !== null);
    assert.equal(file.path, model);
    assert.equal(file.inspection.architecture, "llama");
    // The same parse serves the layer count and the fit check.
    assert.equal(precheck.layers(model), file.info.n_layer);
    assert.ok((await precheck.check({ model })) !== null);
    // A file that could not be read is no parse: the launcher reads it itself and says why.
    assert.equal(precheck.file(missing), null);
    assert.equal(await precheck.check({ model: missing }), null);
  });
});
