import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bestDecodeStepRate, decodeStepRates } from "../../src/metrics/decodeStepRate.js";

describe("decode step rates", () => {
  it("a repetition's step rate is 1e9 / its 10th-percentile step in ns; the run's level the fastest", () => {
    // 400 us and 500 us steps: 2,500 and 2,000 tokens/s, whatever the repetitions' wall-clock rates.
    const row = { samples_ts: [1000, 2400], decode_step_p10_ns: [500_000, 400_000] };
    assert.deepEqual(decodeStepRates(row), [2000, 2500]);
    assert.equal(bestDecodeStepRate(row), 2500);
  });

  it("rows without a step quantile per repetition have none", () => {
    assert.deepEqual(decodeStepRates({ samples_ts: [10, 12] }), []);
    assert.deepEqual(decodeStepRates({ samples_ts: [10, 12], decode_step_p10_ns: [400_000] }), []);
    assert.deepEqual(decodeStepRates({ samples_ts: [10], decode_step_p10_ns: [0] }), []);
    assert.deepEqual(decodeStepRates({ samples_ts: [10], decode_step_p10_ns: ["1"] }), []);
    assert.equal(bestDecodeStepRate({ samples_ts: [] }), null);
  });
});
