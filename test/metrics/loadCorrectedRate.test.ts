import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bestLoadCorrectedRate, loadCorrectedRates } from "../../src/metrics/loadCorrectedRate.js";

describe("load-corrected repetition rates", () => {
  // 128 tokens in 50 ms (2,560 t/s) with the CPU time a 2-thread engine used.
  const row = (cpuMs: number[], extra: Record<string, unknown> = {}) => ({
    samples_ts: cpuMs.map(() => 2560),
    samples_ns: cpuMs.map(() => 50e6),
    engine_cpu_ns: cpuMs.map((ms) => ms * 1e6),
    n_threads: 2,
    n_gpu_layers: 0,
    backends: "cpu",
    ...extra,
  });

  it("a repetition that waited for a core is credited the wait; one that had its cores is unchanged", () => {
    // 100 ms of CPU over 50 ms with 2 threads: share 1. 80 ms: share 0.8, so 2,560 / 0.8 = 3,200.
    // 110 ms (spinning threads, the process's own threads): share above 1, never made faster.
    assert.deepEqual(loadCorrectedRates(row([100, 80, 110])), [2560, 3200, 2560]);
    assert.equal(bestLoadCorrectedRate(row([100, 80, 110])), 3200);
  });

  it("GPU rows, rows without CPU times and rows without repetitions keep what was measured", () => {
    assert.deepEqual(loadCorrectedRates(row([80], { n_gpu_layers: 99, backends: "cuda" })), [2560]);
    assert.deepEqual(loadCorrectedRates({ samples_ts: [10, 12] }), [10, 12]);
    assert.deepEqual(loadCorrectedRates(row([80, 80], { engine_cpu_ns: [1] })), [2560, 2560]);
    assert.equal(bestLoadCorrectedRate({ samples_ts: [] }), null);
  });
});
