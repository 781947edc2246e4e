import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { getLlama, LlamaCompletion, LlamaLogLevel } from "node-llama-cpp";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import type { ModelShape } from "../../src/synth/ModelShape.js";
import { countParameters } from "../../src/synth/planTensors.js";
import { findPreset, listPresets } from "../../src/synth/presets.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

describe("presets", () => {
  it("have exactly the published parameter counts of the real models", () => {
    const published: Record<string, number> = {
      "llama-3.2-1b": 1_235_814_400,
      "llama-3.1-8b": 8_030_261_248,
      "qwen2.5-0.5b": 494_032_768,
      "qwen3-30b-a3b": 30_532_122_624,
    };
    for (const [name, count] of Object.entries(published)) {
      const preset = findPreset(name);
      assert.ok(preset, name);
      assert.equal(preset.publishedParameters, count, name);
      assert.equal(countParameters(preset.shape), count, name);
    }
    assert.ok(listPresets().some((p) => p.shape.expertCount > 0 && p.publishedParameters !== null));
  });
});

describe("synthesizeModel", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-synth-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("is deterministic: same seed, same bytes; another seed, other bytes", async () => {
    const a = await synthesizeModel({ preset: "tiny", type: "q4_0", seed: 7, out: join(dir, "a.gguf") });
    const b = await synthesizeModel({ preset: "tiny", type: "q4_0", seed: 7, out: join(dir, "b.gguf") });
    const c = await synthesizeModel({ preset: "tiny", type: "q4_0", seed: 8, out: join(dir, "c.gguf") });
    assert.equal(a.bytes, c.bytes);
    assert.equal(await sha256(a.path), await sha256(b.path));
    assert.notEqual(await sha256(a.path), await sha256(c.path));
    assert.equal(a.parameters, 5_245_184);
  });

  it("rejects impossible shapes and unknown presets with SYNTH_INVALID_SHAPE", async () => {
    const out = join(dir, "bad.gguf");
    const shapes: Partial<ModelShape>[] = [
      { headCountKv: 3 },
      { vocabSize: 100 },
      { embeddingLength: 100 },
      { blockCount: 0 },
    ];
    for (const shape of shapes) {
      await assert.rejects(synthesizeModel({ preset: "tiny", out, shape }), (e: unknown) =>
        isTokbenchError(e, "SYNTH_INVALID_SHAPE"),
      );
    }
    await assert.rejects(synthesizeModel({ preset: "gpt-9", out }), (e: unknown) =>
      isTokbenchError(e, "SYNTH_INVALID_SHAPE"),
    );
  });

  it("writes models that load, tokenize any text and generate in node-llama-cpp", async () => {
    const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error });
    for (const [preset, type] of [
      ["tiny", "q8_0"],
      ["tiny-moe", "q4_0"],
    ] as const) {
      const r = await synthesizeModel({ preset, type, out: join(dir, `${preset}.gguf`) });
      const model = await llama.loadModel({ modelPath: r.path });
      try {
        const text = "Hello world, ünïcödé 漢字 🦙!";
        const tokens = model.tokenize(text);
        assert.ok(tokens.length > 5);
        assert.equal(model.detokenize(tokens), text);
        const context = await model.createContext({ contextSize: 256 });
        const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
        let generated = 0;
        await completion.generateCompletion("The quick brown fox", {
          maxTokens: 8,
          onToken: (t) => {
            generated += t.length;
          },
        });
        assert.ok(generated > 0, `${preset} generated no token`);
        await context.dispose();
      } finally {
        await model.dispose();
      }
    }
  });
});
