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

/** Standard normal cumulative distribution function Φ(z), through the error function. */
export function normalCdf(z: number): number {
  if (z === Number.POSITIVE_INFINITY) return 1;
  if (z === Number.NEGATIVE_INFINITY) return 0;
  return 0.5 * (1 + ss.errorFunction(z / Math.SQRT2));
}
