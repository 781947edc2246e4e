import { normalCdf } from "./descriptive.js";
import type { SignificanceResult } from "./SignificanceTest.js";

/** Samples per side up to which the exact distribution of U is used (when there are no ties). */
const EXACT_LIMIT = 50;

/**
 * Mann-Whitney U test (Wilcoxon rank-sum) of `current` against `baseline`, two-sided.
 *
 * Why this test: it assumes nothing about the shape of the distributions (latencies are skewed and
 * heavy-tailed; a repetition disturbed by another process is an outlier that would swamp a t-test),
 * and for the small samples of llama-bench-style repetitions it has an exact null distribution.
 * Without ties and with at most 50 samples a side the p-value is exact (the count of rank
 * arrangements, by the classic recurrence); otherwise it is the normal approximation with the tie
 * correction of the variance and a continuity correction of 0.5, as R's `wilcox.test` does.
 *
 * `statistic` is U of the current sample: the number of (baseline, current) pairs where the
 * current value is larger, ties counting half. U / (n_baseline · n_current) is the probability
 * that a random current value exceeds a random baseline value.
 */
export function mannWhitneyU(baseline: readonly number[], current: readonly number[]): SignificanceResult {
  const nx = baseline.length;
  const ny = current.length;
  const base = { method: "mann-whitney-u" as const, n_baseline: nx, n_current: ny };
  if (nx === 0 || ny === 0) return { ...base, p_value: 1, statistic: Number.NaN, exact: false };
  const all = [
    ...baseline.map((value) => ({ value, current: false })),
    ...current.map((value) => ({ value, current: true })),
  ].sort((a, b) => a.value - b.value);
  let rankSumCurrent = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (
      j + 1 < all.length &&
      (all[j + 1] as { value: number }).value === (all[i] as { value: number }).value
    )
      j++;
    const midRank = (i + j + 2) / 2;
    const size = j - i + 1;
    if (size > 1) tieTerm += size ** 3 - size;
    for (let k = i; k <= j; k++) if ((all[k] as { current: boolean }).current) rankSumCurrent += midRank;
    i = j + 1;
  }
  const u = rankSumCurrent - (ny * (ny + 1)) / 2;
  if (tieTerm === 0 && nx <= EXACT_LIMIT && ny <= EXACT_LIMIT) {
    return { ...base, p_value: exactTwoSided(u, nx, ny), statistic: u, exact: true };
  }
  return { ...base, ...uNormalApproximation(u, nx, ny, tieTerm), statistic: u, exact: false };
}

/**
 * Normal approximation of U's null distribution with tie correction (`tieTerm` = Σ (t³ − t) over
 * groups of t equal values) and continuity correction. Also used on histograms, where every
 * bucket is one group of ties.
 */
export function uNormalApproximation(
  u: number,
  nx: number,
  ny: number,
  tieTerm: number,
): { p_value: number } {
  const n = nx + ny;
  const meanU = (nx * ny) / 2;
  const variance = ((nx * ny) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (!(variance > 0)) return { p_value: 1 };
  const distance = Math.max(0, Math.abs(u - meanU) - 0.5);
  const z = distance / Math.sqrt(variance);
  return { p_value: Math.min(1, 2 * (1 - normalCdf(z))) };
}

/**
 * Exact two-sided p-value of U = `u` for sample sizes `m`, `n` without ties: 2 · min(P(U ≤ u),
 * P(U ≥ u)), capped at 1. The distribution of U counts, for each u, the arrangements of m and n
 * ranks with that statistic: f(m, n, u) = f(m − 1, n, u − n) + f(m, n − 1, u), computed for all u
 * at once one sample size at a time.
 */
function exactTwoSided(u: number, m: number, n: number): number {
  const counts = uDistribution(m, n);
  const total = counts.reduce((a, b) => a + b, 0);
  const k = Math.round(u);
  let lower = 0;
  for (let i = 0; i <= Math.min(k, counts.length - 1); i++) lower += counts[i] as number;
  let upper = 0;
  for (let i = Math.max(0, k); i < counts.length; i++) upper += counts[i] as number;
  return Math.min(1, (2 * Math.min(lower, upper)) / total);
}

/** Counts of arrangements by U for sample sizes m and n (index = U, 0..m·n), in floating point. */
function uDistribution(m: number, n: number): number[] {
  // table[j] holds the distribution for (i, j) while i grows; table for i = 0 is [1] for every j.
  let previous: number[][] = Array.from({ length: n + 1 }, () => [1]);
  for (let i = 1; i <= m; i++) {
    const row: number[][] = [[1]];
    for (let j = 1; j <= n; j++) {
      const size = i * j + 1;
      const dist = new Array<number>(size).fill(0);
      const left = previous[j] as number[]; // f(i - 1, j, ·), shifted by j
      const down = row[j - 1] as number[]; // f(i, j - 1, ·)
      for (let u = 0; u < left.length; u++) dist[u + j] = (dist[u + j] as number) + (left[u] as number);
      for (let u = 0; u < down.length; u++) dist[u] = (dist[u] as number) + (down[u] as number);
      row.push(dist);
    }
    previous = row;
  }
  return previous[n] as number[];
}
