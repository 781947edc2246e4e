import type { Measurement, TrialRecord } from "../results/TuneResult.js";
import { median, sampleStddev } from "../stats/descriptive.js";
import type { SweepBudgets } from "../sweep/SweepSpec.js";
import type { TrialMeasurement } from "./Measurement.js";
import { measurementValue, type TuneObjective } from "./objective.js";

/** One configuration measured with its replicates, as the tuner judged it (see `results/TuneResult.ts`). */
export type Trial = TrialRecord;
export type { TrialKind, TrialStatus } from "../results/TuneResult.js";

/** The median, or null for no values. */
function medianOrNull(values: readonly number[]): number | null {
  return values.length === 0 ? null : median(values);
}

/**
 * Judges the replicates of a configuration: feasible only if every replicate ran (`ok`), passed the
 * gate and meets the budgets; its value is the median of the replicates' figures.
 */
export function judgeTrial(
  measured: TrialMeasurement,
  objective: TuneObjective,
  budgets: SweepBudgets,
): Pick<Trial, "replicates" | "status" | "failure" | "reason" | "value" | "ttft_p95_ms" | "spread"> {
  const replicates = measured.replicates;
  const values = replicates.map((m) => measurementValue(m, objective)).filter((v): v is number => v !== null);
  const value = medianOrNull(values);
  const ttft = medianOrNull(
    replicates.map((m) => m.ttft_p95_ms).filter((v): v is number => typeof v === "number"),
  );
  const spread = values.length >= 2 && value !== null && value !== 0 ? sampleStddev(values) / value : null;
  const base = { replicates, value, ttft_p95_ms: ttft, spread };
  if (measured.failure !== null) {
    return { ...base, status: "failed", failure: measured.failure.status, reason: measured.failure.reason };
  }
  const label = (i: number) => (replicates.length > 1 ? `replicate ${i + 1}: ` : "");
  for (const [i, m] of replicates.entries()) {
    if (m.status !== "ok") {
      return { ...base, status: "failed", failure: m.status, reason: `${label(i)}${m.reason ?? m.status}` };
    }
  }
  for (const [i, m] of replicates.entries()) {
    const reason = budgetViolation(m, budgets) ?? (m.feasible ? null : (m.reason ?? "failed the gate"));
    if (reason !== null)
      return { ...base, status: "infeasible", failure: null, reason: `${label(i)}${reason}` };
  }
  if (replicates.length === 0 || value === null) {
    return { ...base, status: "failed", failure: "error", reason: "no figure for the objective" };
  }
  return { ...base, status: "feasible", failure: null, reason: null };
}

function budgetViolation(m: Measurement, budgets: SweepBudgets): string | null {
  if (budgets.max_ttft_p95_ms !== null && (m.ttft_p95_ms === null || m.ttft_p95_ms > budgets.max_ttft_p95_ms))
    return `TTFT p95 ${fmt(m.ttft_p95_ms)} ms > ${budgets.max_ttft_p95_ms} ms`;
  if (budgets.max_itl_p95_ms !== null && (m.itl_p95_ms === null || m.itl_p95_ms > budgets.max_itl_p95_ms))
    return `ITL p95 ${fmt(m.itl_p95_ms)} ms > ${budgets.max_itl_p95_ms} ms`;
  return null;
}

function fmt(v: number | null): string {
  return v === null ? "-" : v.toPrecision(4);
}
