import { createRequire } from "node:module";
import type { DistributionStats } from "../results/DistributionStats.js";
import { PERCENTILES } from "./descriptive.js";

// The package's index also loads its WebAssembly build, which costs ~16 MB of resident memory in
// every process at import; tokbench uses the plain JavaScript histogram only, so it loads that file
// (and the file that adds the standard V2 compressed encoding to it).
const requireHdr = createRequire(import.meta.url);
const Float64Histogram = (
  requireHdr(
    "hdr-histogram-js/dist/Float64Histogram.js",
  ) as typeof import("hdr-histogram-js/dist/Float64Histogram.js")
).default;
requireHdr("hdr-histogram-js/dist/JsHistogram.encoding.js");

/**
 * Values are stored in the histogram as integers of 1/1000 of the unit (µs for milliseconds), so
 * sub-millisecond latencies keep three decimals. Stored histograms carry this scale with them.
 */
export const HISTOGRAM_SCALE = 1000;
const SCALE = HISTOGRAM_SCALE;

/**
 * Streams samples into exact moments (count, mean, variance by Welford's method, min, max) and an
 * HDR histogram (3 significant digits) for percentiles, so memory stays constant however many
 * samples a run produces. Non-finite samples are ignored; negative samples count in the exact
 * moments but are floored at 0 in the histogram (only clock jitter can make them, e.g. a dispatch
 * lag of -0.01 ms).
 */
export class StatsAccumulator {
  private readonly histogram = newHistogram();
  private n = 0;
  private mean = 0;
  private m2 = 0;
  private lo = Number.POSITIVE_INFINITY;
  private hi = Number.NEGATIVE_INFINITY;

  /** Adds one sample. */
  add(value: number): void {
    this.addMany(value, 1);
  }

  /** Adds `count` samples of the same value (a k-token chunk's k inter-token samples). */
  addMany(value: number, count: number): void {
    if (!Number.isFinite(value) || count <= 0) return;
    // Welford's update for `count` identical samples at once (Chan et al. parallel combination).
    const total = this.n + count;
    const delta = value - this.mean;
    this.mean += (delta * count) / total;
    this.m2 += (delta * delta * this.n * count) / total;
    this.n = total;
    if (value < this.lo) this.lo = value;
    if (value > this.hi) this.hi = value;
    this.histogram.recordValueWithCount(Math.max(0, Math.round(value * SCALE)), count);
  }

  /** Number of samples added. */
  get count(): number {
    return this.n;
  }

  /**
   * The histogram in HdrHistogram's standard V2 compressed encoding, base64 (readable by the
   * HdrHistogram libraries of every language), of values scaled by {@link HISTOGRAM_SCALE}; null
   * when no sample was added. Decoded by `HistogramBuckets.decode`.
   */
  encodedHistogram(): string | null {
    if (this.n === 0) return null;
    return (
      this.histogram as unknown as { encodeIntoCompressedBase64(): string }
    ).encodeIntoCompressedBase64();
  }

  /** The distribution so far. See {@link DistributionStats} for the exact definitions. */
  stats(): DistributionStats {
    if (this.n === 0) {
      return {
        count: 0,
        mean: null,
        stddev: null,
        min: null,
        p50: null,
        p90: null,
        p95: null,
        p99: null,
        max: null,
      };
    }
    const percentile = (q: number, minSamples: number): number | null => {
      if (this.n < minSamples) return null;
      const raw = this.histogram.getValueAtPercentile(q) / SCALE;
      // The histogram answers with its bucket's upper edge; keep it inside the exact range.
      return Math.min(this.hi, Math.max(this.lo, raw));
    };
    const out: DistributionStats = {
      count: this.n,
      mean: this.mean,
      stddev: this.n > 1 ? Math.sqrt(this.m2 / (this.n - 1)) : 0,
      min: this.lo,
      p50: null,
      p90: null,
      p95: null,
      p99: null,
      max: this.hi,
    };
    for (const p of PERCENTILES) out[p.key] = percentile(p.q, p.minSamples);
    return out;
  }
}

/** 64-bit counts, 3 significant digits, resizing beyond the initial 2^20 (1,048 s in ms units). */
function newHistogram(): InstanceType<typeof Float64Histogram> {
  const histogram = new Float64Histogram(1, 2 ** 20, 3);
  histogram.autoResize = true;
  return histogram;
}
