import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StatsAccumulator } from "../../src/stats/StatsAccumulator.js";

describe("StatsAccumulator", () => {
  it("gives exact moments and nearest-rank percentiles within histogram precision", () => {
    const s = new StatsAccumulator();
    for (let v = 1; v <= 1000; v++) s.add(v / 10); // 0.1 .. 100.0
    const st = s.stats();
    assert.equal(st.count, 1000);
    assert.ok(Math.abs((st.mean as number) - 50.05) < 1e-9);
    // Sample standard deviation of 0.1..100 step 0.1.
    const exact = Math.sqrt((1000 * 1001) / 12) / 10;
    assert.ok(Math.abs((st.stddev as number) - exact) < 1e-6);
    assert.equal(st.min, 0.1);
    assert.equal(st.max, 100);
    for (const [key, expected] of [
      ["p50", 50],
      ["p90", 90],
      ["p95", 95],
      ["p99", 99],
    ] as const) {
      const got = st[key] as number;
      assert.ok(Math.abs(got - expected) / expected < 0.001, `${key}: ${got} vs ${expected}`);
    }
  });
  it("leaves percentiles null until there are enough samples to estimate them", () => {
    const s = new StatsAccumulator();
    for (let i = 0; i < 15; i++) s.add(i);
    const st = s.stats();
    assert.notEqual(st.p90, null);
    assert.equal(st.p95, null);
    assert.equal(st.p99, null);
  });
  it("counts repeated samples like separate ones", () => {
    const a = new StatsAccumulator();
    const b = new StatsAccumulator();
    a.addMany(5, 3);
    a.add(9);
    for (const v of [5, 5, 5, 9]) b.add(v);
    assert.deepEqual(a.stats(), b.stats());
  });
  it("is all null when empty", () => {
    assert.deepEqual(new StatsAccumulator().stats().mean, null);
  });
});
