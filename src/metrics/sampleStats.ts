/**
 * Statistics of a small set of samples held in memory (a test's repetitions, an observed run's
 * steps), with the same definitions as the streamed {@link DistributionStats}: mean, sample standard
 * deviation (n − 1), nearest-rank percentiles, and no percentile from too few samples.
 */

/** Percentiles tokbench reports, with the fewest samples each needs before it means anything. */
export const PERCENTILES = [
  { key: "p50", q: 50, minSamples: 1 },
  { key: "p90", q: 90, minSamples: 10 },
  { key: "p95", q: 95, minSamples: 20 },
  { key: "p99", q: 99, minSamples: 100 },
] as const;

/** Arithmetic mean; NaN for no samples. */
export function mean(xs: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i] as number;
  return sum / xs.length;
}

/** Sample standard deviation (n − 1); 0 for one sample, as llama-bench reports it. */
export function stddev(xs: ArrayLike<number>): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let sq = 0;
  for (let i = 0; i < xs.length; i++) sq += ((xs[i] as number) - m) ** 2;
  return Math.sqrt(sq / (xs.length - 1));
}

/**
 * Nearest-rank percentile q (0-100): the smallest sample with at least q % of the samples at or
 * below it. Null when there are fewer samples than {@link PERCENTILES} asks for that percentile
 * (for a q it does not list: null only without samples).
 */
export function percentile(xs: ArrayLike<number>, q: number): number | null {
  const need = PERCENTILES.find((p) => p.q === q)?.minSamples ?? 1;
  if (xs.length < need || xs.length === 0) return null;
  const sorted = Float64Array.from(xs).sort();
  const rank = Math.max(1, Math.ceil((q / 100) * sorted.length));
  return sorted[rank - 1] as number;
}
