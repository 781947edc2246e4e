import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bestDecodeStepRate, decodeStepRates, hasDecodeSteps } from "../../src/metrics/decodeStepRate.js";

describe("decode step rates", () => {
  it("a repetition's step rate is 1e9 / its 10th-percentile step in ns; the run's level the fastest steady one", () => {
    // p10 steps of 500, 400 and 380 us: 2,000, 2,500 and 2,631.6 tokens/s, whatever the wall-clock
    // rates; the third repetition's median step (450 us) is over 1.15 x 380 us: not steady, left out.
    const row = {
      samples_ts: [1000, 2400, 2300],
      decode_step_p10_ns: [500_000, 400_000, 380_000],
      decode_step_p50_ns: [575_000, 420_000, 450_000],
    };
    assert.equal(hasDecodeSteps(row), true);
    assert.deepEqual(decodeStepRates(row), [2000, 2500]);
    assert.equal(bestDecodeStepRate(row), 2500);
    assert.equal(bestDecodeStepRate({ ...row, decode_step_p50_ns: [600_000, 500_000, 450_000] }), null);
  });

  it("rows without both step quantiles for every repetition have none", () => {
    assert.equal(hasDecodeSteps({ samples_ts: [10, 12] }), false);
    assert.deepEqual(decodeStepRates({ samples_ts: [10], decode_step_p10_ns: [400_000] }), []);
    const both = (p10: unknown[], p50: unknown[]) => ({
      samples_ts: [10, 12],
      decode_step_p10_ns: p10,
      decode_step_p50_ns: p50,
    });
    assert.equal(hasDecodeSteps(both([400_000], [400_000])), false);
    assert.equal(hasDecodeSteps(both([400_000, 0], [400_000, 400_000])), false);
    assert.equal(hasDecodeSteps(both([400_000, "1"], [400_000, 400_000])), false);
    assert.equal(bestDecodeStepRate({ samples_ts: [] }), null);
  });
});
