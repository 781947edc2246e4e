/**
 * The answer of a two-sample significance test of "current differs from baseline". `p_value` is
 * two-sided. `method` names the test, for output and docs.
 */
export interface SignificanceResult {
  method: "mann-whitney-u" | "welch-t" | "quantile-interval" | "prediction-t";
  /** The p-value (two-sided unless `alternative`); 1 when nothing can be said (too few samples, no spread at all and equal). */
  p_value: number;
  /** `less`: a one-sided p-value of "current is lower". Absent: two-sided. */
  alternative?: "less";
  /** The test statistic (U of the current sample, t, or z). */
  statistic: number;
  /** Whether the p-value came from the exact distribution (small samples without ties). */
  exact: boolean;
  n_baseline: number;
  n_current: number;
}
