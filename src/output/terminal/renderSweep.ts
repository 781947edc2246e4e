import {
  type AxisValue,
  type CellResult,
  figureAt,
  type SweepAxis,
  type SweepResult,
  type SweepTiming,
} from "../../results/SweepResult.js";
import { createTable } from "../createTable.js";
import { formatNumber } from "../formatNumber.js";

/** Short words for failed gate checks. */
const CHECK_WORDS: Record<string, string> = {
  completed: "stopped",
  errors: "errors",
  ttft_p95: "ttft",
  itl_p95: "itl",
  output_tokens: "short",
  stop_token_leak: "leak",
  trusted_figures: "untrusted",
};

function objectiveValue(result: SweepResult, cell: CellResult): number | null {
  return figureAt(cell.summary, result.objective_field);
}

/** What a grid cell shows: the objective's figure and the verdict. */
export function cellText(result: SweepResult, cell: CellResult | undefined): string {
  if (cell === undefined) return "-";
  const value = formatNumber(objectiveValue(result, cell));
  switch (cell.status) {
    case "feasible":
      return `${value} ok`;
    case "infeasible": {
      const failed = cell.replicates.flatMap((r) =>
        r.checks.filter((c) => !c.ok).map((c) => CHECK_WORDS[c.check] ?? c.check),
      );
      return `${value} x ${[...new Set(failed)].join(",")}`;
    }
    case "failed":
      return cell.failure === "oom"
        ? "OOM"
        : cell.failure !== null
          ? `fail: ${cell.failure}`
          : "fail: errors";
    case "skipped":
      return "skipped";
    case "wont_fit":
      return "won't fit";
  }
}

function label(axis: string, value: AxisValue): string {
  const text = String(value);
  return axis === "model" ? (text.split("/").pop() ?? text) : text;
}

/** A cell's value on an axis. */
function valueOn(cell: CellResult, axis: SweepAxis): AxisValue | undefined {
  if (axis.kind === "knob") return cell.knobs[axis.name];
  return (cell.workload as unknown as Record<string, AxisValue | undefined>)[axis.name];
}

/**
 * The grids of a sweep: rows and columns are the two axes with the most values (a workload axis
 * preferred for the columns); one grid per combination of the other axes that vary. A cell not
 * run (yet) shows `-`.
 */
export function renderSweepGrids(result: SweepResult): string {
  const varying = result.axes.filter((a) => a.values.length > 1);
  const [first] = result.cells;
  if (varying.length === 0) return `one cell: ${cellText(result, first)}`;
  const ranked = [...varying].sort(
    (a, b) => b.values.length - a.values.length || result.axes.indexOf(a) - result.axes.indexOf(b),
  );
  const top = ranked.slice(0, 2);
  const cols: SweepAxis | null =
    top.length < 2 ? null : (top.find((a) => a.kind === "workload") ?? (top[1] as SweepAxis));
  const rows = (top.find((a) => a !== cols) ?? top[0]) as SweepAxis;
  const others = varying.filter((a) => a !== rows && a !== cols);
  const combos = others.reduce<Record<string, AxisValue>[]>(
    (acc, axis) => acc.flatMap((c) => axis.values.map((v) => ({ ...c, [axis.name]: v }))),
    [{}],
  );
  const find = (values: Map<SweepAxis, AxisValue>) =>
    result.cells.find((c) => [...values].every(([axis, v]) => valueOn(c, axis) === v));
  const out: string[] = [];
  for (const combo of combos) {
    const fixed = new Map<SweepAxis, AxisValue>(others.map((a) => [a, combo[a.name] as AxisValue]));
    const table = createTable({
      head: [
        cols === null ? rows.name : `${rows.name} \\ ${cols.name}`,
        ...(cols === null ? [result.objective_field] : cols.values.map((v) => label(cols.name, v))),
      ],
    });
    for (const rv of rows.values) {
      const row = [label(rows.name, rv)];
      for (const cv of cols === null ? [null] : cols.values) {
        const at = new Map(fixed);
        at.set(rows, rv);
        if (cols !== null) at.set(cols, cv as AxisValue);
        row.push(cellText(result, find(at)));
      }
      table.push(row);
    }
    const title = others.map((a) => `${a.name}=${label(a.name, combo[a.name] as AxisValue)}`).join(" ");
    if (title !== "") out.push(title);
    out.push(table.toString());
  }
  return out.join("\n");
}

/** A cell's knobs and workload in one line. */
export function describeCell(cell: CellResult): string {
  const knobs = Object.entries(cell.knobs).map(([k, v]) => `${k}=${label(k, v)}`);
  const w = cell.workload;
  const workload = [
    w.concurrency === null ? null : `concurrency=${w.concurrency}`,
    w.rate === undefined ? null : `rate=${w.rate}`,
    `prompt=${w.prompt_tokens}`,
    `output=${w.max_tokens}`,
  ].filter((x) => x !== null);
  return [...knobs, ...workload].join(" ");
}

function percent(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((part / whole) * 100)} %` : "-";
}

/** Where the wall time went, in one line. */
export function renderTiming(t: SweepTiming): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return (
    `wall ${s(t.wall_ms)}: measuring ${percent(t.measuring_ms, t.wall_ms)} (${s(t.measuring_ms)}), ` +
    `launching and waiting for ready ${percent(t.launching_ms, t.wall_ms)} (${s(t.launching_ms)}, ${t.launches} launches), ` +
    `warmup and run setup ${percent(t.warmup_ms, t.wall_ms)}, stopping ${percent(t.stopping_ms, t.wall_ms)}, ` +
    `other ${percent(t.other_ms, t.wall_ms)}`
  );
}

/** The terminal report of a sweep: counts, grids, best cell, failures, per-axis limits, time. */
export function renderSweep(result: SweepResult): string {
  const lines: string[] = [];
  const counts = new Map<string, number>();
  for (const c of result.cells) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
  const notRun = result.planned_cells - result.cells.length;
  lines.push(
    `sweep ${result.sweep_id}: ${result.status}${result.status_reason ? ` (${result.status_reason})` : ""}; ` +
      `${result.planned_cells} cells: ${[...counts].map(([k, v]) => `${v} ${k}`).join(", ")}${notRun > 0 ? `, ${notRun} not run` : ""}`,
  );
  lines.push(
    `grid: ${result.objective_field} (${result.objective_unit}, median of replicates); ok: feasible; x: failed the gate (which check); ` +
      "OOM, fail, skipped, won't fit: not measured or failed",
  );
  lines.push(renderSweepGrids(result));
  const best = result.cells.find((c) => c.index === result.best_cell);
  if (best === undefined) {
    lines.push("best feasible cell: none");
  } else {
    const f = best.summary;
    lines.push(
      `best feasible cell for ${result.objective}: ${describeCell(best)}: ${formatNumber(f?.output_tokens_per_s)} tok/s, ` +
        `${formatNumber(f?.requests_per_s)} req/s, goodput ${formatNumber(f?.goodput_rps)} req/s, ` +
        `TTFT p95 ${formatNumber(f?.ttft_ms.p95)} ms, ITL p95 ${formatNumber(f?.itl_ms.p95)} ms (run ${best.run_id})`,
    );
  }
  const failures = result.cells.filter((c) => c.status === "failed" || c.status === "wont_fit");
  if (failures.length > 0) {
    lines.push("failed and won't-fit cells:");
    for (const c of failures.slice(0, 12)) lines.push(`  ${describeCell(c)}: ${c.reason ?? c.status}`);
    if (failures.length > 12) lines.push(`  ... and ${failures.length - 12} more (--json has them all)`);
  }
  for (const a of result.axis_limits) {
    lines.push(
      `${a.axis}: highest passing ${a.highest_passing === null ? "none" : label(a.axis, a.highest_passing)}, ` +
        `first failing ${a.first_failing === null ? "none" : label(a.axis, a.first_failing)}`,
    );
  }
  if (result.timing !== null) lines.push(renderTiming(result.timing));
  return lines.join("\n");
}
