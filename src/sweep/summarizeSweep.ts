import {
  type AxisLimits,
  type CellResult,
  figureAt,
  objectiveFigure,
  type SweepResult,
  type SweepTiming,
} from "../results/SweepResult.js";
import type { AxisValue } from "../search/Axis.js";
import type { SweepPlan } from "./planSweep.js";
import type { SweepObjective } from "./SweepSpec.js";

/** A cell's value for the objective; null when it was not measured. */
export function objectiveValue(cell: CellResult, objective: SweepObjective): number | null {
  return figureAt(cell.summary, objectiveFigure(objective).field);
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
      (cell.summary?.ttft_ms.p95 ?? Infinity) < (best.summary?.ttft_ms.p95 ?? Infinity);
    if (better || tie) best = cell;
  }
  return best;
}

/** For every axis with more than one value, the highest passing and the first failing value. */
export function summarizeAxes(plan: SweepPlan, cells: readonly CellResult[]): AxisLimits[] {
  const byKey = new Map(cells.map((c) => [c.key, c]));
  const out: AxisLimits[] = [];
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

/** The sweep's result as `--json` prints it and the terminal report reads it. */
export function buildSweepResult(input: {
  sweep_id: string;
  status: SweepResult["status"];
  status_reason: string | null;
  plan: SweepPlan;
  cells: readonly CellResult[];
  objective: SweepObjective;
  timing: SweepTiming | null;
}): SweepResult {
  const { plan, objective } = input;
  const figure = objectiveFigure(objective);
  const workload = new Set(plan.workload_axes.map((a) => a.name));
  const best = bestCell(input.cells, objective);
  return {
    sweep_id: input.sweep_id,
    status: input.status,
    status_reason: input.status_reason,
    objective,
    objective_field: figure.field,
    objective_unit: figure.unit,
    higher_is_better: figure.higher_is_better,
    axes: plan.axes.map((a) => ({
      name: a.name,
      kind: workload.has(a.name) ? "workload" : "knob",
      values: [...a.values],
      order: a.order,
    })),
    planned_cells: plan.cells.length,
    cells: [...input.cells],
    best_cell: best?.index ?? null,
    axis_limits: summarizeAxes(plan, input.cells),
    timing: input.timing,
  };
}
