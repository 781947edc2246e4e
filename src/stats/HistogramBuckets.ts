import { createRequire } from "node:module";
import { inflateSync } from "node:zlib";
import { normalCdf } from "./descriptive.js";
import { uNormalApproximation } from "./mannWhitneyU.js";
import type { SignificanceResult } from "./SignificanceTest.js";

const requireHdr = createRequire(import.meta.url);
type JsHistogramClass = typeof import("hdr-histogram-js/dist/JsHistogram.js").default;
const JsHistogram = (requireHdr("hdr-histogram-js/dist/JsHistogram.js") as { default: JsHistogramClass })
  .default as JsHistogramClass & {
  decode(data: Uint8Array, bitBucketSize: 64): InstanceType<JsHistogramClass>;
};
// Adds `JsHistogram.decode` (the V2 encoding) without loading the package's WebAssembly build.
requireHdr("hdr-histogram-js/dist/JsHistogram.encoding.js");
requireHdr("hdr-histogram-js/dist/Float64Histogram.js");

/** One bucket of a histogram: the values it holds are all within the histogram's precision of `value`. */
export interface HistogramBucket {
  /** The bucket's representative value (the middle of its equivalence range), in the metric's unit. */
  value: number;
  count: number;
}

const V2_COMPRESSED_COOKIE_BASE = 0x1c849304;

/**
 * A latency (or rate) distribution read back from its stored HdrHistogram encoding, as sorted
 * buckets: what the report draws (histograms, CDFs) and what comparisons test, without the
 * per-request rows. Percentiles are nearest-rank over the buckets, as `StatsAccumulator` reads
 * them during the run (to 3 significant digits).
 */
export class HistogramBuckets {
  readonly buckets: readonly HistogramBucket[];
  readonly count: number;

  constructor(buckets: readonly HistogramBucket[]) {
    this.buckets = buckets;
    this.count = buckets.reduce((n, b) => n + b.count, 0);
  }

  /**
   * Decodes a histogram written by `StatsAccumulator.encodedHistogram()` (HdrHistogram V2
   * compressed, base64) whose values were multiplied by `scale`.
   * @throws Error when `encoded` is not such a histogram.
   */
  static decode(encoded: string, scale: number): HistogramBuckets {
    const bytes = Buffer.from(encoded, "base64");
    if (bytes.length < 8) throw new Error("histogram encoding too short");
    const cookie = bytes.readInt32BE(0);
    if ((cookie & ~0xf0) !== V2_COMPRESSED_COOKIE_BASE)
      throw new Error("not an HdrHistogram V2 compressed encoding");
    const length = bytes.readInt32BE(4);
    const histogram = JsHistogram.decode(inflateSync(bytes.subarray(8, 8 + length)), 64);
    const buckets: HistogramBucket[] = [];
    const iterator = histogram.recordedValuesIterator;
    iterator.reset();
    while (iterator.hasNext()) {
      const step = iterator.next();
      buckets.push({
        value: histogram.medianEquivalentValue(step.valueIteratedTo) / scale,
        count: step.countAtValueIteratedTo,
      });
    }
    return new HistogramBuckets(buckets);
  }

  /** Nearest-rank value at quantile `q` in [0, 1]; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (const b of this.buckets) {
      seen += b.count;
      if (seen >= rank) return b.value;
    }
    return (this.buckets[this.buckets.length - 1] as HistogramBucket).value;
  }

  /** Mean of the bucket values (within the histogram's precision of the exact mean). */
  mean(): number {
    if (this.count === 0) return Number.NaN;
    return this.buckets.reduce((s, b) => s + b.value * b.count, 0) / this.count;
  }

  /** The empirical CDF, one point per bucket: [value, fraction of samples at or below it]. */
  cdf(): [number, number][] {
    let seen = 0;
    return this.buckets.map((b) => {
      seen += b.count;
      return [b.value, seen / this.count];
    });
  }

  /**
   * The counts regrouped into at most `bins` equal-width bins between the lowest bucket and the
   * `upperQuantile` (the tail above it is folded into the last bin, so one outlier does not squash
   * the picture). Returns the bins' lower edges, width and counts.
   */
  bins(bins: number, upperQuantile = 0.999): { from: number; width: number; counts: number[] } {
    if (this.count === 0) return { from: 0, width: 0, counts: [] };
    const from = (this.buckets[0] as HistogramBucket).value;
    const to = Math.max(this.quantile(upperQuantile), from);
    const width = to > from ? (to - from) / bins : 1;
    const counts = new Array<number>(to > from ? bins : 1).fill(0);
    for (const b of this.buckets) {
      const i = Math.min(counts.length - 1, Math.floor((b.value - from) / width));
      counts[i] = (counts[i] as number) + b.count;
    }
    return { from, width, counts };
  }
}

/**
 * Mann-Whitney U of two histograms: each bucket is a group of tied values, so U, its tie-corrected
 * variance and the normal approximation follow exactly as for raw samples whose values were
 * rounded to the histogram's precision. This is how per-token distributions (inter-token latency,
 * chunk gaps), which are kept only as histograms, are tested.
 */
export function mannWhitneyHistograms(
  baseline: HistogramBuckets,
  current: HistogramBuckets,
): SignificanceResult {
  const nx = baseline.count;
  const ny = current.count;
  const base = { method: "mann-whitney-u" as const, n_baseline: nx, n_current: ny, exact: false };
  if (nx === 0 || ny === 0) return { ...base, p_value: 1, statistic: Number.NaN };
  const merged = new Map<number, [number, number]>();
  for (const b of baseline.buckets)
    merged.set(b.value, [(merged.get(b.value)?.[0] ?? 0) + b.count, merged.get(b.value)?.[1] ?? 0]);
  for (const b of current.buckets)
    merged.set(b.value, [merged.get(b.value)?.[0] ?? 0, (merged.get(b.value)?.[1] ?? 0) + b.count]);
  const values = [...merged.keys()].sort((a, b) => a - b);
  let below = 0;
  let rankSumCurrent = 0;
  let tieTerm = 0;
  for (const value of values) {
    const [bx, by] = merged.get(value) as [number, number];
    const size = bx + by;
    rankSumCurrent += by * (below + (size + 1) / 2);
    if (size > 1) tieTerm += size ** 3 - size;
    below += size;
  }
  const u = rankSumCurrent - (ny * (ny + 1)) / 2;
  return { ...base, ...uNormalApproximation(u, nx, ny, tieTerm), statistic: u };
}

/**
 * Whether a histogram of `count` samples brackets its `q` quantile inside the sample: the ranks
 * n·q ± 1.96·√(n·q·(1 − q)) (and one more above) must fall between 1 and n. Below that (a p95 of
 * 100 samples, a p99 of 500) the interval runs off the end of the data, and nothing can be said
 * about a difference: roughly 120 samples for p95, 600 for p99.
 */
export function quantileBracketed(count: number, q: number): boolean {
  const spread = 1.96 * Math.sqrt(count * q * (1 - q));
  return count * q - spread >= 1 && count * q + spread + 1 <= count;
}

/**
 * Test of "the `q` quantile differs" between two histograms, from each quantile's distribution-free
 * confidence interval: the ranks n·q ± 1.96·√(n·q·(1 − q)) bracket the true quantile with 95 %
 * probability (binomial, normal approximation), so half the interval's width on the log scale,
 * divided by 1.96, estimates the log quantile's standard error; the two are combined into a z test
 * of the log ratio. Also returns the ratio's 95 % interval. When either sample is too small to
 * bracket the quantile ({@link quantileBracketed}) the test is null: no verdict.
 */
export function compareQuantiles(
  baseline: HistogramBuckets,
  current: HistogramBuckets,
  q: number,
): { ratio: number; low: number; high: number; test: SignificanceResult | null } {
  const base = {
    method: "quantile-interval" as const,
    n_baseline: baseline.count,
    n_current: current.count,
    exact: false,
  };
  const logSe = (h: HistogramBuckets): number => {
    const spread = 1.96 * Math.sqrt(h.count * q * (1 - q));
    const lo = h.quantile(Math.max(0, (h.count * q - spread) / h.count));
    const hi = h.quantile(Math.min(1, (h.count * q + spread + 1) / h.count));
    return lo > 0 && hi > 0 ? (Math.log(hi) - Math.log(lo)) / (2 * 1.96) : Number.NaN;
  };
  const a = baseline.quantile(q);
  const b = current.quantile(q);
  const ratio = b / a;
  if (!quantileBracketed(baseline.count, q) || !quantileBracketed(current.count, q)) {
    return { ratio, low: Number.NaN, high: Number.NaN, test: null };
  }
  const se = Math.sqrt(logSe(baseline) ** 2 + logSe(current) ** 2);
  if (!(a > 0 && b > 0) || !Number.isFinite(se)) {
    return { ratio, low: Number.NaN, high: Number.NaN, test: { ...base, p_value: 1, statistic: Number.NaN } };
  }
  const logRatio = Math.log(ratio);
  if (se === 0) {
    return {
      ratio,
      low: ratio,
      high: ratio,
      test: {
        ...base,
        p_value: logRatio === 0 ? 1 : 0,
        statistic: logRatio === 0 ? 0 : Number.POSITIVE_INFINITY,
      },
    };
  }
  const z = logRatio / se;
  return {
    ratio,
    low: Math.exp(logRatio - 1.96 * se),
    high: Math.exp(logRatio + 1.96 * se),
    test: { ...base, p_value: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))), statistic: z },
  };
}
