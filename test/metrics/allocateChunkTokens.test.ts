import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { allocateChunkTokens } from "../../src/metrics/allocateChunkTokens.js";

const chunk = (chars: number, tokens: number | null = null) => ({ at_ms: 0, read_index: 0, tokens, chars });

describe("allocateChunkTokens", () => {
  it("gives one token per chunk when the total equals the chunk count", () => {
    assert.deepEqual(allocateChunkTokens([chunk(3), chunk(9), chunk(1)], 3), [1, 1, 1]);
  });
  it("shares extra tokens by text length and always sums to the total", () => {
    assert.deepEqual(allocateChunkTokens([chunk(10), chunk(30)], 6), [2, 4]);
    for (let total = 3; total < 40; total++) {
      const counts = allocateChunkTokens([chunk(1), chunk(7), chunk(3)], total);
      assert.equal(
        counts.reduce((a, b) => a + b, 0),
        total,
      );
      assert.ok(counts.every((c) => c >= 1));
    }
  });
  it("counts one per chunk when the server reports fewer tokens than chunks", () => {
    assert.deepEqual(allocateChunkTokens([chunk(1), chunk(1), chunk(1)], 2), [1, 1, 1]);
  });
  it("uses exact counts when every chunk has one", () => {
    assert.deepEqual(allocateChunkTokens([chunk(1, 2), chunk(1, 5)], 99), [2, 5]);
  });
});
