import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bootstrapRatioInterval } from "../../src/stats/bootstrap.js";
import { mean, median, percentile, quantile, sampleStddev } from "../../src/stats/descriptive.js";
import {
  compareQuantiles,
  HistogramBuckets,
  mannWhitneyHistograms,
} from "../../src/stats/HistogramBuckets.js";
import { mannWhitneyU } from "../../src/stats/mannWhitneyU.js";
import { predictionTTest } from "../../src/stats/predictionTTest.js";
import { HISTOGRAM_SCALE, StatsAccumulator } from "../../src/stats/StatsAccumulator.js";
import { welchTTest } from "../../src/stats/welchTTest.js";
import { seededRandom } from "../../src/workload/seededRandom.js";

const close = (a: number, b: number, tolerance: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= tolerance, `${what}: ${a} vs ${b}`);

describe("descriptive statistics", () => {
  it("agree with hand-computed values and fix the edge cases", () => {
    assert.equal(mean([1, 2, 3, 4]), 2.5);
    close(sampleStddev([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7), 1e-12, "stddev");
    assert.equal(sampleStddev([5]), 0);
    assert.ok(Number.isNaN(mean([])) && Number.isNaN(median([])) && Number.isNaN(sampleStddev([])));
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(quantile([1, 2, 3, 4, 5], 0.5), 3);
  });
  it("percentiles are nearest-rank samples, and none from too few samples", () => {
    const xs = Float64Array.from({ length: 20 }, (_, i) => 20 - i);
    // Rank ceil(q/100 * n): p50 of 1..20 is the 10th value, p95 the 19th (never interpolated).
    assert.equal(percentile(xs, 50), 10);
    assert.equal(percentile(xs, 90), 18);
    assert.equal(percentile(xs, 95), 19);
    assert.equal(percentile(xs, 99), null, "p99 needs 100 samples");
    assert.equal(percentile(xs.slice(0, 19), 95), null, "p95 needs 20");
    assert.equal(percentile([7], 50), 7);
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([3, 1, 2], 0), 1, "a q not listed: the smallest rank");
  });
});

describe("prediction t-test (one run against the runs of a reference)", () => {
  it("matches scipy: reference 10, 12, 11, 13, 9 and a new value 6 give t = -2.887, p = 0.04471 (4 df)", () => {
    const r = predictionTTest([10, 12, 11, 13, 9], 6);
    close(r.statistic, -5 / (Math.sqrt(2.5) * Math.sqrt(1.2)), 1e-12, "t");
    close(r.p_value, 0.044708587, 1e-6, "p");
    assert.equal(r.method, "prediction-t");
  });
  it("one-sided (less): half the two-sided p below the reference, near 1 above it", () => {
    close(predictionTTest([10, 12, 11, 13, 9], 6, "less").p_value, 0.044708587 / 2, 1e-6, "p below");
    close(predictionTTest([10, 12, 11, 13, 9], 16, "less").p_value, 1 - 0.044708587 / 2, 1e-6, "p above");
  });
  it("says nothing from one reference run or references without spread", () => {
    assert.equal(predictionTTest([10], 1).p_value, 1);
    assert.equal(predictionTTest([10, 10, 10], 1).p_value, 1);
  });
});

describe("Mann-Whitney U", () => {
  it("gives the exact two-sided p-value for complete separation (2 / C(10, 5))", () => {
    const r = mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    assert.equal(r.statistic, 25);
    assert.equal(r.exact, true);
    close(r.p_value, 2 / 252, 1e-12, "p");
  });
  it("matches R's wilcox.test on Hollander & Wolfe's example (W = 35, one-sided p = 0.1272)", () => {
    const x = [0.8, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
    const y = [1.15, 0.88, 0.9, 0.74, 1.21];
    const r = mannWhitneyU(y, x);
    assert.equal(r.statistic, 35);
    close(r.p_value, 2 * 0.1272, 0.0005, "two-sided p");
  });
  it("uses the tie-corrected normal approximation with ties, close to the exact answer without", () => {
    const random = seededRandom(7);
    const a = Array.from({ length: 30 }, () => random());
    const b = Array.from({ length: 30 }, () => random() + 0.2);
    const exact = mannWhitneyU(a, b);
    assert.equal(exact.exact, true);
    // Rounding to two decimals creates ties: the approximation must then be used, and agree.
    const tied = mannWhitneyU(
      a.map((v) => Math.round(v * 100) / 100),
      b.map((v) => Math.round(v * 100) / 100),
    );
    assert.equal(tied.exact, false);
    close(tied.p_value, exact.p_value, 0.01, "p with ties vs exact");
    assert.ok(exact.p_value < 0.05, `a 0.2 shift on 30 uniform samples is detected (p ${exact.p_value})`);
  });
  it("answers p = 1 with an empty side", () => {
    assert.equal(mannWhitneyU([], [1, 2]).p_value, 1);
  });
});

describe("Welch's t-test", () => {
  it("matches R's t.test on the sleep data (t = -1.8608, df 17.776, p = 0.07939)", () => {
    const g1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0];
    const g2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4];
    const r = welchTTest(g2, g1);
    close(r.statistic, -1.8608, 0.0001, "t");
    close(r.p_value, 0.07939, 0.00001, "p");
  });
  it("handles samples without spread", () => {
    assert.equal(welchTTest([1, 1, 1], [1, 1, 1]).p_value, 1);
    assert.equal(welchTTest([1, 1, 1], [2, 2, 2]).p_value, 0);
    assert.equal(welchTTest([1], [2, 3]).p_value, 1);
  });
});

describe("bootstrap ratio interval", () => {
  it("brackets the true ratio of means and is reproducible from its seed", () => {
    const random = seededRandom(3);
    const a = Array.from({ length: 200 }, () => 100 + 10 * random());
    const b = a.map((v) => v * 0.9);
    const ci = bootstrapRatioInterval(a, b, mean, { seed: 5 });
    assert.ok(ci !== null && ci.low < 0.9 && ci.high > 0.9 && ci.high < 1, JSON.stringify(ci));
    assert.deepEqual(bootstrapRatioInterval(a, b, mean, { seed: 5 }), ci);
  });
});

describe("stored histograms", () => {
  it("round-trip through the HdrHistogram V2 encoding with the run's percentiles", () => {
    const s = new StatsAccumulator();
    const random = seededRandom(11);
    for (let i = 0; i < 5000; i++) s.add(1 + 50 * random() ** 3);
    const h = HistogramBuckets.decode(s.encodedHistogram() as string, HISTOGRAM_SCALE);
    const st = s.stats();
    assert.equal(h.count, 5000);
    for (const [q, key] of [
      [0.5, "p50"],
      [0.9, "p90"],
      [0.99, "p99"],
    ] as const) {
      close(h.quantile(q), st[key] as number, (st[key] as number) * 0.002, key);
    }
    close(h.mean(), st.mean as number, (st.mean as number) * 0.002, "mean");
    const cdf = h.cdf();
    assert.equal(cdf[cdf.length - 1]?.[1], 1);
    const bins = h.bins(40);
    assert.equal(
      bins.counts.reduce((a, b) => a + b, 0),
      5000,
    );
    assert.equal(new StatsAccumulator().encodedHistogram(), null);
    assert.throws(() => HistogramBuckets.decode("bm90IGEgaGlzdG9ncmFt", 1000), /not an HdrHistogram/);
  });
  it("give the same Mann-Whitney answer as the raw samples when values sit exactly on buckets", () => {
    const random = seededRandom(2);
    // Values 0.1 .. 2.0 in steps of 0.1: integers 100..2000 in the histogram, all exact.
    const a = Array.from({ length: 400 }, () => Math.round(1 + random() * 19) / 10);
    const b = Array.from({ length: 300 }, () => Math.round(2 + random() * 18) / 10);
    const fill = (values: number[]): HistogramBuckets => {
      const acc = new StatsAccumulator();
      for (const v of values) acc.add(v);
      return HistogramBuckets.decode(acc.encodedHistogram() as string, HISTOGRAM_SCALE);
    };
    const raw = mannWhitneyU(a, b);
    const hist = mannWhitneyHistograms(fill(a), fill(b));
    assert.equal(hist.statistic, raw.statistic);
    close(hist.p_value, raw.p_value, 1e-12, "p");
  });
  it("tell a 20 % higher p95 from the same distribution sampled again", () => {
    const random = seededRandom(4);
    const sample = (scale: number): HistogramBuckets => {
      const acc = new StatsAccumulator();
      for (let i = 0; i < 4000; i++) acc.add(scale * (5 + 20 * random() ** 2));
      return HistogramBuckets.decode(acc.encodedHistogram() as string, HISTOGRAM_SCALE);
    };
    const base = sample(1);
    const same = compareQuantiles(base, sample(1), 0.95);
    const slower = compareQuantiles(base, sample(1.2), 0.95);
    assert.ok((same.test?.p_value ?? 0) > 0.05 && same.low < 1 && same.high > 1, JSON.stringify(same));
    assert.ok((slower.test?.p_value ?? 1) < 0.001 && slower.low > 1.1, JSON.stringify(slower));
  });
});

describe("quantile comparison with few samples", () => {
  it("gives no verdict when the sample cannot bracket the percentile (a p95 of 20 values)", () => {
    const fill = (values: number[]): HistogramBuckets => {
      const acc = new StatsAccumulator();
      for (const v of values) acc.add(v);
      return HistogramBuckets.decode(acc.encodedHistogram() as string, HISTOGRAM_SCALE);
    };
    const a = fill(Array.from({ length: 20 }, (_, i) => 20 + i / 2));
    const b = fill(Array.from({ length: 20 }, (_, i) => 30 + i));
    assert.equal(compareQuantiles(a, b, 0.95).test, null);
    assert.ok(compareQuantiles(a, b, 0.5).test !== null);
  });
});
