import {
  bestDecodeStepRate,
  decodeStepRates,
  hasDecodeSteps,
  STEADY_MEDIAN_TO_P10,
} from "../metrics/decodeStepRate.js";
import { bestLoadCorrectedRate } from "../metrics/loadCorrectedRate.js";
import { mean } from "../stats/descriptive.js";
import { compareQuantiles } from "../stats/HistogramBuckets.js";
import { mannWhitneyU } from "../stats/mannWhitneyU.js";
import { predictionTTest } from "../stats/predictionTTest.js";
import { welchTTest } from "../stats/welchTTest.js";
import type { ComparableRun } from "./ComparableRun.js";
import {
  type Comparison,
  type ComparisonRow,
  compareRuns,
  type RepetitionTest,
  testRowsByKey,
} from "./compareRuns.js";

/** The thresholds of `tokbench regress`, each configurable; the defaults are the ones teams commonly use. */
export interface RegressionThresholds {
  /** Largest tolerated drop of a decode rate with a short prompt, %. Defaults to 12. */
  decode_drop_pct: number;
  /** Largest tolerated drop of a decode rate with a long prompt, %. Defaults to 15. */
  decode_drop_long_pct: number;
  /** Largest tolerated drop of a prompt-processing rate, %. Defaults to 12. */
  prefill_drop_pct: number;
  /** Largest tolerated rise of a p95 latency (TTFT, inter-token, per-token, end to end), %. Defaults to 10. */
  p95_increase_pct: number;
  /** Largest tolerated ratio of p95 inter-token latency with long prompts to that with short ones. Defaults to 1.3. */
  long_short_itl_ratio: number;
  /** Prompt (plus depth) tokens from which a prompt counts as long. Defaults to 1024. */
  long_prompt_tokens: number;
  /** Significance level. Defaults to 0.05. */
  alpha: number;
  /** Fewest repetitions a side for a llama-bench-style row to be judged. Defaults to 3. */
  min_repetitions: number;
  /** The test for repetitions. Defaults to `welch`. */
  repetition_test: RepetitionTest;
  /**
   * Fewest runs of the baseline's configuration (the baseline and its reference runs) from which a
   * llama-bench-style row is judged between runs (see {@link judgeRegression}). Defaults to 3.
   */
  min_baseline_runs: number;
}

export const DEFAULT_THRESHOLDS: RegressionThresholds = {
  decode_drop_pct: 12,
  decode_drop_long_pct: 15,
  prefill_drop_pct: 12,
  p95_increase_pct: 10,
  long_short_itl_ratio: 1.3,
  long_prompt_tokens: 1024,
  alpha: 0.05,
  min_repetitions: 3,
  repetition_test: "welch",
  min_baseline_runs: 3,
};

/** How one row fared. */
export type FindingStatus =
  | "regression"
  | "over threshold, not significant"
  | "within threshold"
  | "cannot judge";

/** One judged row. */
export interface RegressionFinding {
  rule: string;
  row: string;
  baseline: number | null;
  current: number | null;
  /** Change in the bad direction, % (a drop for rates, a rise for latencies); negative when it improved. */
  worse_pct: number | null;
  threshold_pct: number;
  p_value: number | null;
  status: FindingStatus;
  /** Why a row cannot be judged. */
  reason: string | null;
}

/** The answer of `tokbench regress`. */
export interface RegressionReport {
  verdict: "no regression" | "regression" | "cannot judge";
  /** 0: no regression, 1: regression, 2: cannot judge. */
  exit_code: 0 | 1 | 2;
  /** Why the verdict is `cannot judge`, or notes worth reading beside a pass. */
  reasons: string[];
  findings: RegressionFinding[];
  baseline_run_id: string;
  current_run_id: string;
  comparison: Comparison | null;
}

function cannotJudge(baseline: ComparableRun, current: ComparableRun, reasons: string[]): RegressionReport {
  return {
    verdict: "cannot judge",
    exit_code: 2,
    reasons,
    findings: [],
    baseline_run_id: baseline.run.run_id,
    current_run_id: current.run.run_id,
    comparison: null,
  };
}

/** The rule a row falls under, with its threshold in % of the bad direction; null for rows no rule covers. */
function ruleOf(row: ComparisonRow, t: RegressionThresholds): { rule: string; threshold: number } | null {
  const long = (row.context_tokens ?? 0) >= t.long_prompt_tokens;
  if (row.family === "decode" && (row.section === "tests" || row.stat === "p50")) {
    return long
      ? { rule: "decode rate, long prompt", threshold: t.decode_drop_long_pct }
      : { rule: "decode rate, short prompt", threshold: t.decode_drop_pct };
  }
  if (row.family === "prefill" && (row.section === "tests" || row.stat === "p50")) {
    return { rule: "prefill rate", threshold: t.prefill_drop_pct };
  }
  if (row.stat === "p95" && ["ttft", "itl", "tpot", "e2e"].includes(row.family)) {
    return { rule: "p95 latency drift", threshold: t.p95_increase_pct };
  }
  return null;
}

/**
 * Judges `current` against `baseline`. A row is a regression only when it is worse by more than
 * its threshold AND the significance test says the change is real (p < alpha), so run-to-run noise
 * that happens to cross a threshold does not fail a build, and a significant change within the
 * threshold does not either. A row over its threshold whose test cannot reach significance for
 * lack of samples makes the whole verdict `cannot judge`, as do a different workload or model, a
 * knob that differs, or a run that did not complete.
 *
 * `references` are earlier runs of the baseline's configuration (in the CLI, the earlier accepted
 * baselines of the model and workload). With them, llama-bench-style rate rows are judged between
 * runs: each run's level (its step level for decode rows that have step quantiles, else its best
 * load-corrected repetition) is tested against the baseline runs' levels by a prediction t-test,
 * whose spread is the run-to-run noise of this machine. A repetitions test within two runs
 * cannot see that noise: on a machine whose speed drifts between runs it calls the drift
 * significant. Rows with fewer than `min_baseline_runs` baseline runs are judged within the runs:
 * decode rows with step quantiles on their repetitions' step rates, the others on their rates.
 */
export function judgeRegression(
  baseline: ComparableRun,
  current: ComparableRun,
  thresholds: Partial<RegressionThresholds> = {},
  references: readonly ComparableRun[] = [],
): RegressionReport {
  const t = { ...DEFAULT_THRESHOLDS, ...thresholds };
  const reasons: string[] = [];
  for (const [side, r] of [
    ["baseline", baseline],
    ["current", current],
  ] as const) {
    if (r.run.status !== "completed")
      reasons.push(`the ${side} run ${r.run.run_id} did not complete (${r.run.status})`);
  }
  if (baseline.run.workload_key === null || baseline.run.workload_key !== current.run.workload_key) {
    reasons.push(
      `different workloads: ${baseline.run.workload ?? "unknown"} vs ${current.run.workload ?? "unknown"}`,
    );
  }
  if (baseline.run.model !== current.run.model) {
    reasons.push(`different models: ${baseline.run.model ?? "-"} vs ${current.run.model ?? "-"}`);
  }
  if (reasons.length > 0) return cannotJudge(baseline, current, reasons);
  const comparison = compareRuns([baseline, current], { alpha: t.alpha, repetitionTest: t.repetition_test });
  for (const d of comparison.differences.filter((x) => x.kind === "configuration")) {
    reasons.push(`different configuration: ${d.field} ${d.values.join(" vs ")}`);
  }
  if (reasons.length > 0) return { ...cannotJudge(baseline, current, reasons), comparison };

  const findings: RegressionFinding[] = [];
  // Reference runs comparable with the baseline: same model, workload and configuration, completed.
  const peers = references.filter(
    (r) =>
      r.run.run_id !== baseline.run.run_id &&
      r.run.run_id !== current.run.run_id &&
      r.run.status === "completed" &&
      r.run.model === baseline.run.model &&
      r.run.workload_key === baseline.run.workload_key &&
      compareRuns([baseline, r]).differences.every((d) => d.kind !== "configuration"),
  );
  const testMaps = [baseline, current, ...peers].map((r) => testRowsByKey(r));
  for (const row of comparison.rows) {
    const rule = ruleOf(row, t);
    const c = row.comparisons[0];
    if (rule === null || c === undefined) continue;
    if (row.section === "tests" && row.test_key !== undefined) {
      const [baseRow, currentRow, ...peerRows] = testMaps.map((m) => m.get(row.test_key as string));
      const baseRows = [baseRow, ...peerRows].filter((r): r is Record<string, unknown> => r !== undefined);
      const judged =
        baseRow === undefined || currentRow === undefined
          ? null
          : (judgeBetweenRuns(row, baseRows, currentRow, rule, t) ??
            judgeStepRatesWithinRuns(row, baseRow, currentRow, rule, t));
      if (judged !== null) {
        findings.push(judged);
        continue;
      }
    }
    const name = `${row.name} ${row.stat}`;
    const worse = c.ratio === null ? null : (row.better === "higher" ? 1 - c.ratio : c.ratio - 1) * 100;
    let status: FindingStatus;
    let reason: string | null = null;
    const testable =
      c.test !== null &&
      (row.section === "requests" ||
        Math.min(c.test.n_baseline, c.test.n_current) >=
          Math.max(t.min_repetitions, t.repetition_test === "mann-whitney" ? 4 : 2));
    if (worse === null) {
      status = "cannot judge";
      reason = "missing in one run";
    } else if (worse <= rule.threshold) {
      status = "within threshold";
    } else if (!testable) {
      status = "cannot judge";
      reason =
        row.section === "tests"
          ? `too few repetitions to test (${c.test?.n_baseline ?? 0} vs ${c.test?.n_current ?? 0}; at least ${t.min_repetitions} a side)`
          : `too few samples to bracket the ${row.stat} (about 120 for p95, 600 for p99)`;
    } else {
      status = c.verdict === "slower" ? "regression" : "over threshold, not significant";
    }
    findings.push({
      rule: rule.rule,
      row: name,
      baseline: row.values[0] ?? null,
      current: row.values[1] ?? null,
      worse_pct: worse,
      threshold_pct: rule.threshold,
      p_value: c.test?.p_value ?? null,
      status,
      reason,
    });
  }
  return finalize(baseline, current, findings, comparison);
}

/**
 * A llama-bench-style rate row judged between runs: the levels of the baseline and its reference
 * runs (`baseRows`, the baseline's first) against the current run's level, by a prediction t-test. A run's level is its step level
 * (`bestDecodeStepRate`: the fastest steady repetition's 10th-percentile decode step) when every run
 * has step quantiles, tested one-sided (a gate asks whether the rate dropped): baseline runs without
 * a steady repetition are left out, and a current run without one cannot be judged. Otherwise it is
 * the best load-corrected repetition (`bestLoadCorrectedRate`), the same estimator for all, tested
 * two-sided. Null when fewer than `min_baseline_runs` baseline runs have a level (the row is then
 * judged within the two runs).
 */
function judgeBetweenRuns(
  row: ComparisonRow,
  baseRows: readonly Record<string, unknown>[],
  currentRow: Record<string, unknown>,
  rule: { rule: string; threshold: number },
  t: RegressionThresholds,
): RegressionFinding | null {
  const bySteps = [...baseRows, currentRow].every((r) => hasDecodeSteps(r));
  const levelOf = (r: Record<string, unknown>): number | null =>
    bySteps ? bestDecodeStepRate(r) : bestLoadCorrectedRate(r);
  // Baseline runs without a steady repetition are left out: their level is the machine's, not the engine's.
  const levels = baseRows.map(levelOf).filter((x): x is number => x !== null);
  if (levels.length < Math.max(2, t.min_baseline_runs)) return null;
  const current = levelOf(currentRow);
  const name = `${row.name} ${bySteps ? "decode step rate (fastest steady repetition's p10 step)" : "best load-corrected t/s"}, against ${levels.length} baseline runs`;
  if (current === null) {
    return {
      rule: rule.rule,
      row: name,
      baseline: mean(levels),
      current: null,
      worse_pct: null,
      threshold_pct: rule.threshold,
      p_value: null,
      status: "cannot judge",
      reason: bySteps
        ? `no repetition of the current run ran steadily (median decode step over ${STEADY_MEDIAN_TO_P10} x its p10 step in each): the machine was too busy; run it again`
        : "no repetition in the current run",
    };
  }
  const level = mean(levels);
  const worse = (1 - current / level) * 100;
  // One-sided for step levels only: the best load-corrected repetition keeps a long tail of slow
  // runs on a busy machine, which a one-sided t-test turns into false alarms (9-10 % measured).
  const test = predictionTTest(levels, current, bySteps ? "less" : "two-sided");
  return {
    rule: rule.rule,
    row: name,
    baseline: level,
    current,
    worse_pct: worse,
    threshold_pct: rule.threshold,
    p_value: test.p_value,
    status:
      worse <= rule.threshold
        ? "within threshold"
        : test.p_value < t.alpha
          ? "regression"
          : "over threshold, not significant",
    reason: null,
  };
}

/**
 * A decode row judged within the two runs on their steady repetitions' step rates
 * (`decodeStepRates`) rather than their wall-clock rates, when too few baseline runs exist to judge
 * between runs: the repetitions test (`repetition_test`, two-sided) on the step rates, the threshold
 * on the ratio of their means. Null when either run has fewer than 2 steady repetitions (the row is
 * then judged on its wall-clock repetitions, as before).
 */
function judgeStepRatesWithinRuns(
  row: ComparisonRow,
  baseRow: Record<string, unknown>,
  currentRow: Record<string, unknown>,
  rule: { rule: string; threshold: number },
  t: RegressionThresholds,
): RegressionFinding | null {
  const base = decodeStepRates(baseRow);
  const current = decodeStepRates(currentRow);
  if (base.length < 2 || current.length < 2) return null;
  const worse = (1 - mean(current) / mean(base)) * 100;
  const minimum = Math.max(t.min_repetitions, t.repetition_test === "mann-whitney" ? 4 : 2);
  const testable = Math.min(base.length, current.length) >= minimum;
  const test = t.repetition_test === "mann-whitney" ? mannWhitneyU(base, current) : welchTTest(base, current);
  let status: FindingStatus;
  let reason: string | null = null;
  if (worse <= rule.threshold) status = "within threshold";
  else if (!testable) {
    status = "cannot judge";
    reason = `too few repetitions to test (${base.length} vs ${current.length}; at least ${t.min_repetitions} a side)`;
  } else status = test.p_value < t.alpha ? "regression" : "over threshold, not significant";
  return {
    rule: rule.rule,
    row: `${row.name} decode step rate (p10 step of each steady repetition)`,
    baseline: mean(base),
    current: mean(current),
    worse_pct: worse,
    threshold_pct: rule.threshold,
    p_value: test.p_value,
    status,
    reason,
  };
}

/**
 * The long/short rule: p95 inter-token latency with a long prompt at most `long_short_itl_ratio`
 * times that with a short prompt, between two runs of the same model (usually two workloads of one
 * CI job). A violation needs the ratio over the limit and the lower end of its 95 % interval over
 * it too (so noise cannot make it).
 */
export function judgeLongShortItl(
  short: ComparableRun,
  long: ComparableRun,
  thresholds: Partial<RegressionThresholds> = {},
): RegressionFinding {
  const t = { ...DEFAULT_THRESHOLDS, ...thresholds };
  const a = short.distributions.get("itl_ms");
  const b = long.distributions.get("itl_ms");
  const base = {
    rule: "long/short prompt ITL p95",
    row: "inter-token latency p95, long / short",
    baseline: short.run.summary?.itl_ms.p95 ?? null,
    current: long.run.summary?.itl_ms.p95 ?? null,
    threshold_pct: (t.long_short_itl_ratio - 1) * 100,
  };
  if (a === undefined || b === undefined || a.count < 20 || b.count < 20) {
    return {
      ...base,
      worse_pct: null,
      p_value: null,
      status: "cannot judge",
      reason: "no inter-token latency distribution with 20 samples in both runs",
    };
  }
  const q = compareQuantiles(a, b, 0.95);
  const over = q.ratio > t.long_short_itl_ratio;
  if (over && q.test === null) {
    return {
      ...base,
      worse_pct: (q.ratio - 1) * 100,
      p_value: null,
      status: "cannot judge",
      reason: "too few samples to bracket the p95",
    };
  }
  return {
    ...base,
    worse_pct: (q.ratio - 1) * 100,
    p_value: q.test?.p_value ?? null,
    status: !over
      ? "within threshold"
      : q.low > t.long_short_itl_ratio
        ? "regression"
        : "over threshold, not significant",
    reason: null,
  };
}

/** The verdict from the findings: any regression fails; any row that could not be judged while over its threshold makes it `cannot judge`. */
export function finalize(
  baseline: ComparableRun,
  current: ComparableRun,
  findings: RegressionFinding[],
  comparison: Comparison | null,
): RegressionReport {
  const reasons: string[] = [];
  let verdict: RegressionReport["verdict"] = "no regression";
  if (findings.some((f) => f.status === "regression")) verdict = "regression";
  else if (findings.some((f) => f.status === "cannot judge")) {
    verdict = "cannot judge";
    for (const f of findings.filter((x) => x.status === "cannot judge"))
      reasons.push(`${f.row}: ${f.reason ?? "cannot judge"}`);
  } else if (findings.length === 0) {
    verdict = "cannot judge";
    reasons.push("no row to judge: the runs share no decode, prefill or p95 latency figure");
  }
  for (const f of findings.filter((x) => x.status === "over threshold, not significant")) {
    reasons.push(
      `${f.row}: ${f.worse_pct?.toFixed(1)} % worse, over the ${f.threshold_pct} % threshold but not significant (p = ${f.p_value?.toFixed(3)})`,
    );
  }
  return {
    verdict,
    exit_code: verdict === "no regression" ? 0 : verdict === "regression" ? 1 : 2,
    reasons,
    findings,
    baseline_run_id: baseline.run.run_id,
    current_run_id: current.run.run_id,
    comparison,
  };
}
