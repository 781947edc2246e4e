import jstatModule from "jstat";
import { mean, sampleVariance } from "./descriptive.js";
import type { SignificanceResult } from "./SignificanceTest.js";

const { jStat } = jstatModule as unknown as typeof import("jstat");

/**
 * Welch's unequal-variance t-test of `current` against `baseline`, two-sided, with the
 * Welch–Satterthwaite degrees of freedom; the t distribution's CDF is jstat's. Needs two samples a
 * side. When both samples have no spread at all, equal means give p = 1 and different means p = 0.
 */
export function welchTTest(baseline: readonly number[], current: readonly number[]): SignificanceResult {
  const nx = baseline.length;
  const ny = current.length;
  const base = { method: "welch-t" as const, n_baseline: nx, n_current: ny, exact: false };
  if (nx < 2 || ny < 2) return { ...base, p_value: 1, statistic: Number.NaN };
  const vx = sampleVariance(baseline) / nx;
  const vy = sampleVariance(current) / ny;
  const diff = mean(current) - mean(baseline);
  if (vx + vy === 0)
    return {
      ...base,
      p_value: diff === 0 ? 1 : 0,
      statistic: diff === 0 ? 0 : Math.sign(diff) * Number.POSITIVE_INFINITY,
    };
  const t = diff / Math.sqrt(vx + vy);
  const df = (vx + vy) ** 2 / (vx ** 2 / (nx - 1) + vy ** 2 / (ny - 1));
  const p = 2 * (1 - jStat.studentt.cdf(Math.abs(t), df));
  return { ...base, p_value: Math.min(1, Math.max(0, p)), statistic: t };
}
