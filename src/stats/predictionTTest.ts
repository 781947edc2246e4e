import jstatModule from "jstat";
import { mean, sampleStddev } from "./descriptive.js";
import type { SignificanceResult } from "./SignificanceTest.js";

const { jStat } = jstatModule as unknown as typeof import("jstat");

/**
 * Is `current`, one run's figure, a draw from the distribution the `reference` runs' figures came
 * from? The t-test of a new observation against a sample (its prediction interval): t = (current -
 * mean) / (s * sqrt(1 + 1/k)), k - 1 degrees of freedom, two-sided; the t CDF is jstat's.
 *
 * This is the test for figures whose noise is between runs rather than within one (a machine whose
 * speed drifts as other work comes and goes): the reference runs' spread is that noise, so it needs
 * several runs of the same configuration, at least 2 (3 for any power). With fewer, or when the
 * references have no spread at all, nothing can be said: p = 1.
 *
 * `alternative`: `two-sided` (is `current` different?) or `less` (is it lower? the one-sided p,
 * P(T <= t), for a gate that only asks whether a rate dropped). Defaults to `two-sided`.
 */
export function predictionTTest(
  reference: readonly number[],
  current: number,
  alternative: "two-sided" | "less" = "two-sided",
): SignificanceResult {
  const k = reference.length;
  const base = { method: "prediction-t" as const, n_baseline: k, n_current: 1, exact: false };
  const s = sampleStddev(reference);
  if (k < 2 || !(s > 0)) return { ...base, p_value: 1, statistic: Number.NaN };
  const t = (current - mean(reference)) / (s * Math.sqrt(1 + 1 / k));
  const p =
    alternative === "less" ? jStat.studentt.cdf(t, k - 1) : 2 * (1 - jStat.studentt.cdf(Math.abs(t), k - 1));
  return {
    ...base,
    ...(alternative === "less" ? { alternative } : {}),
    p_value: Math.min(1, Math.max(0, p)),
    statistic: t,
  };
}
