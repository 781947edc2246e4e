import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Utf8Accumulator } from "../../src/http/Utf8Accumulator.js";

describe("Utf8Accumulator", () => {
  it("gives back exactly the concatenation of its pieces, split anywhere, growth included", () => {
    const text = `héllo wörld 日本語 🦙🦙 ${"x".repeat(700)} \u{1F600}end`;
    for (const size of [1, 2, 3, 5, 64]) {
      const acc = new Utf8Accumulator();
      let concatenated = "";
      for (let i = 0; i < text.length; i += size) {
        const piece = text.slice(i, i + size); // may split a surrogate pair
        acc.append(piece);
        concatenated += piece;
      }
      assert.equal(acc.toString(), concatenated, `pieces of ${size}`);
      assert.equal(acc.toString(), text);
    }
  });

  it("keeps a lone high surrogate at the end as string concatenation would", () => {
    const acc = new Utf8Accumulator();
    acc.append("a\ud83e");
    assert.equal(acc.toString(), "a\ud83e");
    acc.append("\udd99b");
    assert.equal(acc.toString(), "a🦙b");
  });
});
