import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SyntheticPromptSource } from "../../src/workload/SyntheticPromptSource.js";

/** A tokenizer that splits on spaces but encodes a few words as two tokens, with a BOS token. */
const countWithBos = async (text: string): Promise<number> =>
  1 + text.split(" ").reduce((n, w) => n + (w === "" ? 0 : w.length > 6 ? 2 : 1), 0);

describe("SyntheticPromptSource", () => {
  it("builds prompts of the exact token length when a tokenizer confirms the vocabulary", async () => {
    const source = await SyntheticPromptSource.create({ prompt_tokens: 50 }, countWithBos);
    assert.equal(source.exact, true);
    for (const i of [0, 1, 2, 999, 123456]) {
      const p = source.prompt(i);
      assert.equal(p.tokens, 50);
      assert.equal(await countWithBos(p.text), 50, `prompt ${i}`);
    }
  });

  it("gives each request a unique prefix, or one shared prompt when asked", async () => {
    const unique = await SyntheticPromptSource.create({ prompt_tokens: 20 }, countWithBos);
    const texts = new Set(Array.from({ length: 500 }, (_, i) => unique.prompt(i).text));
    assert.equal(texts.size, 500);
    const shared = await SyntheticPromptSource.create(
      { prompt_tokens: 20, unique_prefix: false },
      countWithBos,
    );
    assert.equal(shared.prompt(1).text, shared.prompt(2).text);
  });

  it("says the length is approximate when the target has no tokenizer", async () => {
    const source = await SyntheticPromptSource.create({ prompt_tokens: 30 }, async () => null);
    assert.equal(source.exact, false);
    assert.equal(source.prompt(0).exact, false);
    assert.equal(source.prompt(0).text.split(" ").length, 30);
  });

  it("falls back to approximate when the tokenizer merges words so lengths do not add up", async () => {
    // Every pair of words is one token: single words look fine, full prompts do not add up.
    const merging = async (text: string): Promise<number> => Math.ceil(text.split(" ").length / 2) + 1;
    const source = await SyntheticPromptSource.create({ prompt_tokens: 40 }, merging);
    assert.equal(source.exact, false);
  });
});
