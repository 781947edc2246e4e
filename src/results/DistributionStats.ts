/**
 * Summary statistics of a set of samples. `mean`, `stddev` (sample standard deviation), `min` and
 * `max` are exact; percentiles are nearest-rank, read from an HDR histogram at 3 significant
 * digits. A percentile is null when there are too few samples to estimate it
 * (p90 needs 10, p95 20, p99 100): a p99 of five samples is just the maximum under another name.
 * Every field is null when `count` is 0.
 */
export interface DistributionStats {
  count: number;
  mean: number | null;
  stddev: number | null;
  min: number | null;
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  max: number | null;
}
