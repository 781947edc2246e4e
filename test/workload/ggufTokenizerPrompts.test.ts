import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { GgufTokenizer } from "../../src/targets/tokenizers/GgufTokenizer.js";
import { SyntheticPromptSource } from "../../src/workload/SyntheticPromptSource.js";

describe("prompts of exact length with a local GGUF tokenizer", () => {
  let dir: string;
  let tokenizer: GgufTokenizer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-tok-"));
    const model = await synthesizeModel({
      preset: "tiny",
      type: "q4_0",
      out: join(dir, "tiny.gguf"),
      seed: 1,
    });
    tokenizer = await GgufTokenizer.open(model.path);
  });
  after(async () => {
    await tokenizer.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("builds prompts whose length the model's own tokenizer confirms", async () => {
    const source = await SyntheticPromptSource.create({ prompt_tokens: 64 }, async (t) => tokenizer.count(t));
    assert.equal(source.exact, true);
    for (const i of [0, 5, 777]) {
      const p = source.prompt(i);
      assert.equal(tokenizer.count(p.text), 64);
    }
  });

  it("says which file is missing", async () => {
    await assert.rejects(GgufTokenizer.open(join(dir, "absent.gguf")), (e) =>
      isTokbenchError(e, "FILE_NOT_FOUND"),
    );
  });
});
