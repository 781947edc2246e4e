import * as ss from "simple-statistics";

/**
 * tokbench's descriptive statistics over arrays of samples: the one place a mean, a standard
 * deviation or a median of a list is computed (streams of samples go through
 * {@link StatsAccumulator} instead). The arithmetic is simple-statistics'; what is ours is the
 * convention for the edge cases, fixed here once: an empty list gives NaN, and the standard
 * deviation of a single sample is 0 (as llama-bench prints it), not NaN.
 */

/** Arithmetic mean; NaN when empty. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : ss.mean(values as number[]);
}

/** Sample standard deviation (n - 1 in the denominator); 0 for one sample, NaN when empty. */
export function sampleStddev(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.length < 2 ? 0 : ss.sampleStandardDeviation(values as number[]);
}

/** Sample variance (n - 1); 0 for one sample, NaN when empty. */
export function sampleVariance(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.length < 2 ? 0 : ss.sampleVariance(values as number[]);
}

/** Median (the mean of the two middle values for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : ss.median(values as number[]);
}

/**
 * Quantile `q` in [0, 1] of `values` by simple-statistics' rule (linear between the two
 * neighbours when `q * n` falls between ranks); NaN when empty.
 */
export function quantile(values: readonly number[], q: number): number {
  return values.length === 0 ? Number.NaN : ss.quantile(values as number[], q);
}

/** Percentiles tokbench reports, with the fewest samples each needs before it means anything. */
export const PERCENTILES = [
  { key: "p50", q: 50, minSamples: 1 },
  { key: "p90", q: 90, minSamples: 10 },
  { key: "p95", q: 95, minSamples: 20 },
  { key: "p99", q: 99, minSamples: 100 },
] as const;

/**
 * Nearest-rank percentile q (0-100), the definition of every reported pXX (the streamed
 * {@link StatsAccumulator} reads the same rank off its histogram): the smallest sample with at least
 * q % of the samples at or below it. Null when there are fewer samples than {@link PERCENTILES} asks
 * for that percentile (for a q it does not list: null only without samples). Unlike
 * {@link quantile}, never a value between two samples.
 */
export function percentile(values: ArrayLike<number>, q: number): number | null {
  const need = PERCENTILES.find((p) => p.q === q)?.minSamples ?? 1;
  if (values.length < need || values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil((q / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** Standard normal cumulative distribution function Φ(z), through the error function. */
export function normalCdf(z: number): number {
  if (z === Number.POSITIVE_INFINITY) return 1;
  if (z === Number.NEGATIVE_INFINITY) return 0;
  return 0.5 * (1 + ss.errorFunction(z / Math.SQRT2));
}
