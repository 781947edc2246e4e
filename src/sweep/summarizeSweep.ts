import type { CellFigures, CellResult } from "../results/SweepResult.js";
import type { AxisValue } from "../search/Axis.js";
import type { SweepPlan } from "./planSweep.js";
import type { SweepObjective } from "./SweepSpec.js";

/** Per axis: how far it went. */
export interface AxisSummary {
  axis: string;
  values: AxisValue[];
  /** The largest value at which at least one cell was feasible; null when none was. */
  highest_passing: AxisValue | null;
  /** The smallest value at which no cell was feasible (failed, infeasible, skipped or won't fit); null when every value had a feasible cell. */
  first_failing: AxisValue | null;
}

/** The figure an objective ranks by, and which way is better. */
export function objectiveFigure(objective: SweepObjective): {
  field: keyof CellFigures;
  higher_is_better: boolean;
  unit: string;
} {
  switch (objective) {
    case "throughput":
      return { field: "output_tokens_per_s", higher_is_better: true, unit: "tok/s" };
    case "goodput":
      return { field: "goodput_rps", higher_is_better: true, unit: "req/s" };
    case "requests":
      return { field: "requests_per_s", higher_is_better: true, unit: "req/s" };
    case "latency":
      return { field: "ttft_p95_ms", higher_is_better: false, unit: "ms TTFT p95" };
  }
}

/** A cell's value for the objective; null when it was not measured. */
export function objectiveValue(cell: CellResult, objective: SweepObjective): number | null {
  const value = cell.summary?.[objectiveFigure(objective).field];
  return typeof value === "number" ? value : null;
}

/** The best feasible cell for the objective (ties: lower TTFT p95); null when none is feasible. */
export function bestCell(cells: readonly CellResult[], objective: SweepObjective): CellResult | null {
  const { higher_is_better } = objectiveFigure(objective);
  let best: CellResult | null = null;
  for (const cell of cells) {
    if (cell.status !== "feasible") continue;
    const value = objectiveValue(cell, objective);
    if (value === null) continue;
    if (best === null) {
      best = cell;
      continue;
    }
    const bestValue = objectiveValue(best, objective) as number;
    const better = higher_is_better ? value > bestValue : value < bestValue;
    const tie =
      value === bestValue &&
      (cell.summary?.ttft_p95_ms ?? Infinity) < (best.summary?.ttft_p95_ms ?? Infinity);
    if (better || tie) best = cell;
  }
  return best;
}

/** For every axis with more than one value, the highest passing and the first failing value. */
export function summarizeAxes(plan: SweepPlan, cells: readonly CellResult[]): AxisSummary[] {
  const byKey = new Map(cells.map((c) => [c.key, c]));
  const out: AxisSummary[] = [];
  for (const axis of plan.axes) {
    if (axis.values.length < 2) continue;
    let highest: AxisValue | null = null;
    let firstFailing: AxisValue | null = null;
    for (const value of axis.values) {
      const at = plan.cells.filter((c) => c.point[axis.name] === value).map((c) => byKey.get(c.key));
      if (at.some((c) => c === undefined)) continue;
      const passing = at.some((c) => c?.status === "feasible");
      if (passing) highest = value;
      else if (firstFailing === null) firstFailing = value;
    }
    out.push({
      axis: axis.name,
      values: [...axis.values],
      highest_passing: highest,
      first_failing: firstFailing,
    });
  }
  return out;
}
