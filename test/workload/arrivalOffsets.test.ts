import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { arrivalOffsets } from "../../src/workload/arrivalOffsets.js";

const take = (gen: Generator<number>, n: number): number[] =>
  Array.from({ length: n }, () => gen.next().value as number);

describe("arrivalOffsets", () => {
  it("spaces constant arrivals exactly 1/rate apart", () => {
    assert.deepEqual(take(arrivalOffsets(4, "constant", 0), 4), [0, 250, 500, 750]);
  });
  it("draws Poisson arrivals whose gaps have mean and standard deviation 1/rate", () => {
    const t = take(arrivalOffsets(10, "poisson", 42), 20001);
    const gaps = t.slice(1).map((v, i) => v - (t[i] as number));
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, g) => a + (g - mean) ** 2, 0) / (gaps.length - 1));
    assert.ok(Math.abs(mean - 100) < 3, `mean gap ${mean}`);
    assert.ok(Math.abs(sd - 100) < 5, `stddev ${sd}`);
    assert.ok(gaps.every((g) => g >= 0));
  });
  it("is reproducible from its seed", () => {
    assert.deepEqual(take(arrivalOffsets(3, "poisson", 7), 50), take(arrivalOffsets(3, "poisson", 7), 50));
    assert.notDeepEqual(take(arrivalOffsets(3, "poisson", 7), 50), take(arrivalOffsets(3, "poisson", 8), 50));
  });
});
