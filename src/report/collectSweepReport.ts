import type {
  HeatmapTile,
  ReportAxisValue,
  SweepCellPicture,
  SweepReportData,
} from "../output/html/ReportData.js";
import {
  type CellResult,
  figureAt,
  objectiveFigure,
  type SweepObjectiveName,
} from "../results/SweepResult.js";
import type { StoredSweep } from "../storage/SweepStore.js";

/** Series of the load curves drawn at most; more are listed as omitted (a chart of 40 lines is unreadable). */
const MAX_SERIES = 12;

/** Saturation hints written one by one, at most; the rest are counted. */
const MAX_SATURATION_HINTS = 3;

/** Workload axes in the order they are read: the load first. */
const WORKLOAD_AXES = ["concurrency", "rate", "prompt_tokens", "max_tokens"] as const;

/** Knob names that mean the context size, across providers (`--knob ctx=...`). */
const CONTEXT_KNOBS = ["ctx", "ctx_size", "ctx-size", "context", "num_ctx"];

const STATUS_ORDER: SweepCellPicture["status"][] = [
  "feasible",
  "infeasible",
  "failed",
  "wont_fit",
  "skipped",
];

const OBJECTIVE_LABELS: Record<SweepObjectiveName, string> = {
  throughput: "output throughput",
  goodput: "goodput (requests meeting every budget)",
  requests: "request rate",
  latency: "TTFT p95",
};

const show = (v: ReportAxisValue | null | undefined): string =>
  v === null || v === undefined ? "no cap" : String(v);

/** The spec's fields the report reads, all optional: a spec is stored as JSON and read without trust. */
interface SpecView {
  provider?: unknown;
  url?: unknown;
  server_cmd?: unknown;
  program?: unknown;
  api?: unknown;
  model?: unknown;
  objective?: unknown;
  requests?: unknown;
  warmup?: unknown;
  replicates?: unknown;
  budgets?: { max_ttft_p95_ms?: unknown; max_itl_p95_ms?: unknown };
  memory_budget_bytes?: unknown;
}

function objectiveOf(spec: SpecView): SweepObjectiveName {
  const o = spec.objective;
  return o === "goodput" || o === "latency" || o === "requests" ? o : "throughput";
}

function cellValues(cell: CellResult): Record<string, ReportAxisValue | null> {
  const values: Record<string, ReportAxisValue | null> = { ...cell.knobs };
  values.concurrency = cell.workload.concurrency;
  if (cell.workload.rate !== undefined) values.rate = cell.workload.rate;
  values.prompt_tokens = cell.workload.prompt_tokens;
  values.max_tokens = cell.workload.max_tokens;
  return values;
}

function reasonOf(cell: CellResult): string | null {
  if (cell.status === "feasible") return null;
  const reason = cell.reason ?? cell.status;
  return cell.failure !== null && !reason.includes(`(${cell.failure})`)
    ? `${reason} (${cell.failure})`
    : reason;
}

/**
 * Whether a cell's figures describe the configuration: measured to the end (feasible or not). A
 * failed cell's figures are those of a server that died or requests that failed, not a speed.
 */
const ran = (c: SweepCellPicture): boolean => c.status === "feasible" || c.status === "infeasible";

/** Sorts axis values: numbers ascending, then everything else in first-seen order. */
function sortValues(values: ReportAxisValue[]): ReportAxisValue[] {
  const numbers = values.filter((v): v is number => typeof v === "number").sort((a, b) => a - b);
  return [...numbers, ...values.filter((v) => typeof v !== "number")];
}

/**
 * The feasible cells no other feasible cell beats on both throughput (higher) and TTFT p95
 * (lower), by cell index, in increasing TTFT p95: the throughput-versus-latency trade-off.
 */
export function paretoFront(points: readonly { cell: number; ttft_p95_ms: number; tps: number }[]): number[] {
  const sorted = [...points].sort((a, b) => a.ttft_p95_ms - b.ttft_p95_ms || b.tps - a.tps);
  const front: number[] = [];
  let best = Number.NEGATIVE_INFINITY;
  for (const p of sorted) {
    if (p.tps > best) {
      front.push(p.cell);
      best = p.tps;
    }
  }
  return front;
}

/**
 * What the report shows of a stored sweep, from the sweep alone (read through `SweepStore.get` or
 * any store's equivalent): its cells flattened, a heatmap of its two main axes, load curves per
 * context (or per the other axes), the throughput-versus-latency front, and hints. Pure.
 */
export function collectSweepReport(sweep: StoredSweep): SweepReportData {
  const spec = (sweep.spec ?? {}) as SpecView;
  const objective = objectiveOf(spec);
  const figure = objectiveFigure(objective);
  const cells: SweepCellPicture[] = sweep.cells.map((c) => ({
    index: c.index,
    label: "",
    values: cellValues(c),
    status: c.status,
    reason: reasonOf(c),
    value: figureAt(c.summary, figure.field),
    output_tokens_per_s: figureAt(c.summary, "output_tokens_per_s"),
    ttft_p95_ms: figureAt(c.summary, "ttft_ms.p95"),
    itl_p95_ms: c.summary?.itl_ms.p95 ?? null,
    requests_per_s: figureAt(c.summary, "requests_per_s"),
    replicates: c.replicates.length,
    run_ids: c.run_ids,
  }));

  // Axes from the cells themselves: knobs in the order the cells name them, then the workload.
  const names: string[] = [];
  for (const c of sweep.cells) for (const k of Object.keys(c.knobs)) if (!names.includes(k)) names.push(k);
  const knobNames = names.length;
  for (const w of WORKLOAD_AXES) if (cells.some((c) => c.values[w] !== undefined)) names.push(w);
  const axes: SweepReportData["axes"] = [];
  const fixed: [string, string][] = [];
  names.forEach((name, i) => {
    const seen: ReportAxisValue[] = [];
    const keys = new Set<string>();
    for (const c of cells) {
      const v = c.values[name];
      const key = show(v);
      if (!keys.has(key)) {
        keys.add(key);
        seen.push(v ?? "no cap");
      }
    }
    if (seen.length > 1)
      axes.push({ name, kind: i < knobNames ? "knob" : "workload", values: sortValues(seen) });
    else if (seen.length === 1) fixed.push([name, show(seen[0])]);
  });
  const varying = axes.map((a) => a.name);
  for (const c of cells)
    c.label = varying.map((n) => `${n}=${show(c.values[n])}`).join(" ") || `cell ${c.index}`;

  const counts = { feasible: 0, infeasible: 0, failed: 0, skipped: 0, wont_fit: 0 };
  for (const c of cells) counts[c.status]++;

  // The best cell, as the sweep ranked it (ties: the lower TTFT p95).
  let best: SweepCellPicture | null = null;
  for (const c of cells) {
    if (c.status !== "feasible" || c.value === null) continue;
    const b = best?.value ?? null;
    if (
      best === null ||
      b === null ||
      (figure.higher_is_better ? c.value > b : c.value < b) ||
      (c.value === b && (c.ttft_p95_ms ?? Infinity) < (best.ttft_p95_ms ?? Infinity))
    )
      best = c;
  }

  const setup: [string, string][] = [];
  const add = (label: string, v: unknown): void => {
    if (v !== undefined && v !== null && v !== "")
      setup.push([label, Array.isArray(v) ? v.join(" ") : String(v)]);
  };
  add("provider", spec.provider);
  add("server command", spec.server_cmd);
  add("program", spec.program);
  add("url", spec.url);
  add("API", spec.api);
  add("model", spec.model);
  add("requests per cell", spec.requests);
  add("warmup requests", spec.warmup);
  add("replicates", spec.replicates);
  add("TTFT p95 budget (ms)", spec.budgets?.max_ttft_p95_ms);
  add("ITL p95 budget (ms)", spec.budgets?.max_itl_p95_ms);
  if (typeof spec.memory_budget_bytes === "number")
    add("memory budget", `${(spec.memory_budget_bytes / 2 ** 30).toFixed(1)} GiB`);

  const data: SweepReportData = {
    sweep_id: sweep.sweep_id,
    status: sweep.status,
    status_reason: sweep.status_reason,
    started_at: sweep.started_at,
    ended_at: sweep.ended_at,
    tool_version: sweep.tool_version,
    setup,
    machine: null,
    objective,
    objective_label: OBJECTIVE_LABELS[objective],
    objective_unit: figure.unit,
    higher_is_better: figure.higher_is_better,
    planned_cells: sweep.planned_cells,
    axes,
    fixed,
    cells,
    best_cell: best?.index ?? null,
    counts,
    heatmap: heatmap(cells, axes, figure.higher_is_better),
    curves: curves(cells, axes),
    pareto: { points: [], front: [] },
    hints: [],
  };
  const points = cells
    .filter((c) => ran(c) && c.ttft_p95_ms !== null && c.output_tokens_per_s !== null)
    .map((c) => ({
      cell: c.index,
      ttft_p95_ms: c.ttft_p95_ms as number,
      tps: c.output_tokens_per_s as number,
      feasible: c.status === "feasible",
      label: c.label,
    }));
  data.pareto = { points, front: paretoFront(points.filter((p) => p.feasible)) };
  data.hints = sweepHints(data);
  return data;
}

/**
 * The two main axes: knobs before workload axes, numeric (ordered) axes before named alternatives,
 * then the most values; ties keep the sweep's order.
 */
function mainAxes(axes: SweepReportData["axes"]): [string, string] | null {
  if (axes.length < 2) return null;
  const numeric = (a: SweepReportData["axes"][number]): number =>
    a.values.every((v) => typeof v === "number") ? 0 : 1;
  const ranked = [...axes].sort(
    (a, b) =>
      (a.kind === b.kind ? 0 : a.kind === "knob" ? -1 : 1) ||
      numeric(a) - numeric(b) ||
      b.values.length - a.values.length,
  );
  return [(ranked[0] as { name: string }).name, (ranked[1] as { name: string }).name];
}

function heatmap(
  cells: SweepCellPicture[],
  axes: SweepReportData["axes"],
  higherIsBetter: boolean,
): SweepReportData["heatmap"] {
  const main = mainAxes(axes);
  if (main === null) return null;
  const [xAxis, yAxis] = main;
  const folded = axes.map((a) => a.name).filter((n) => n !== xAxis && n !== yAxis);
  const valuesOf = (name: string): string[] =>
    (axes.find((a) => a.name === name)?.values ?? []).map((v) => show(v));
  const tiles: HeatmapTile[] = [];
  for (const x of valuesOf(xAxis)) {
    for (const y of valuesOf(yAxis)) {
      const inTile = cells.filter((c) => show(c.values[xAxis]) === x && show(c.values[yAxis]) === y);
      if (inTile.length === 0) continue;
      let best: SweepCellPicture | null = null;
      for (const c of inTile) {
        if (c.status !== "feasible" || c.value === null) continue;
        if (
          best === null ||
          (higherIsBetter ? c.value > (best.value as number) : c.value < (best.value as number))
        )
          best = c;
      }
      // Not feasible anywhere: the tile says the most telling way its cells ended.
      const status: SweepCellPicture["status"] =
        best !== null
          ? "feasible"
          : ((["failed", "wont_fit", "infeasible", "skipped"] as const).find((s) =>
              inTile.some((c) => c.status === s),
            ) ?? "skipped");
      const oom = inTile.some((c) => c.reason !== null && /\(oom\)|out of memory/i.test(c.reason));
      const text =
        best !== null
          ? `${formatValue(best.value)}${folded.length > 0 ? ` @${folded.map((n) => show(best?.values[n])).join("/")}` : ""}`
          : status === "failed" && oom
            ? "OOM"
            : status === "wont_fit"
              ? "won't fit"
              : status;
      const order = [...inTile].sort(
        (a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status),
      );
      tiles.push({
        x,
        y,
        value: best?.value ?? null,
        status,
        text,
        lines: order.map((c) => {
          const where = folded.map((n) => `${n}=${show(c.values[n])}`).join(" ");
          const figure = c.value === null || !ran(c) ? "" : ` ${formatValue(c.value)}`;
          return `${where === "" ? "" : `${where}: `}${c.status}${figure}${c.reason === null ? "" : ` — ${c.reason}`}`;
        }),
      });
    }
  }
  const values = tiles.map((t) => t.value).filter((v): v is number => v !== null);
  return {
    x_axis: xAxis,
    y_axis: yAxis,
    x_values: valuesOf(xAxis),
    y_values: valuesOf(yAxis),
    folded,
    tiles,
    min: values.length === 0 ? null : Math.min(...values),
    max: values.length === 0 ? null : Math.max(...values),
  };
}

function formatValue(v: number | null): string {
  if (v === null) return "-";
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toPrecision(3);
}

/** Load curves: x the concurrency (else the rate), one series per combination of the other varying axes, the context first. */
function curves(cells: SweepCellPicture[], axes: SweepReportData["axes"]): SweepReportData["curves"] {
  const load = axes.find((a) => a.name === "concurrency" && a.values.every((v) => typeof v === "number"))
    ? "concurrency"
    : axes.find((a) => a.name === "rate")
      ? "rate"
      : null;
  if (load === null) return null;
  const others = axes
    .map((a) => a.name)
    .filter((n) => n !== load)
    .sort((a, b) => (CONTEXT_KNOBS.includes(a) ? -1 : CONTEXT_KNOBS.includes(b) ? 1 : 0));
  const bySeries = new Map<string, SweepCellPicture[]>();
  for (const c of cells) {
    const x = c.values[load];
    if (typeof x !== "number") continue;
    const label = others.map((n) => `${n}=${show(c.values[n])}`).join(" ") || "all cells";
    const list = bySeries.get(label) ?? [];
    list.push(c);
    bySeries.set(label, list);
  }
  const all = [...bySeries.entries()].map(([label, list]) => ({
    label,
    points: list
      .filter((c) => ran(c) && (c.output_tokens_per_s !== null || c.ttft_p95_ms !== null))
      .sort((a, b) => (a.values[load] as number) - (b.values[load] as number))
      .map((c) => ({
        x: c.values[load] as number,
        tps: c.output_tokens_per_s,
        ttft_p95_ms: c.ttft_p95_ms,
        feasible: c.status === "feasible",
        cell: c.index,
      })),
  }));
  const drawn = all.filter((s) => s.points.length > 0);
  return {
    x_axis: load,
    series: drawn.slice(0, MAX_SERIES),
    omitted: Math.max(0, drawn.length - MAX_SERIES),
  };
}

/**
 * What the sweep's figures suggest: where throughput stops scaling with the load, the memory
 * boundary along each axis, and gate failures that are all of one kind.
 */
function sweepHints(data: SweepReportData): SweepReportData["hints"] {
  const out: SweepReportData["hints"] = [];
  const saturated: string[] = [];
  for (const s of data.curves?.series ?? []) {
    const pts = s.points.filter((p) => p.tps !== null && p.x > 0);
    for (let i = 1; i < pts.length; i++) {
      const a = pts[i - 1] as (typeof pts)[number];
      const b = pts[i] as (typeof pts)[number];
      const loadGain = b.x / a.x;
      const tpsGain = (b.tps as number) / (a.tps as number);
      // Less than a quarter of the extra load turned into throughput: the server is saturated.
      if (loadGain > 1 && tpsGain - 1 < 0.25 * (loadGain - 1)) {
        const ttft =
          a.ttft_p95_ms !== null && b.ttft_p95_ms !== null && a.ttft_p95_ms > 0
            ? `, while TTFT p95 went from ${formatValue(a.ttft_p95_ms)} to ${formatValue(b.ttft_p95_ms)} ms`
            : "";
        saturated.push(
          `${s.label === "all cells" ? "" : `${s.label}: `}throughput stops scaling at ${data.curves?.x_axis} ${a.x}: ${formatValue(a.tps)} → ${formatValue(b.tps)} tok/s (x${tpsGain.toFixed(2)}) for x${loadGain.toFixed(1)} the ${data.curves?.x_axis}${ttft}; more load only queues.`,
        );
        break;
      }
    }
  }
  // A few lines say it; a line per series of a large sweep would bury the other hints.
  for (const text of saturated.slice(0, MAX_SATURATION_HINTS)) out.push({ level: "info", text });
  if (saturated.length > MAX_SATURATION_HINTS)
    out.push({
      level: "info",
      text: `Throughput stops scaling in ${saturated.length - MAX_SATURATION_HINTS} more of the ${data.curves?.series.length} series drawn (the curves below).`,
    });
  const oom = data.cells.filter((c) => c.reason !== null && /\(oom\)|out of memory/i.test(c.reason));
  if (oom.length > 0) {
    const lightest = [...oom].sort((a, b) => a.index - b.index)[0] as SweepCellPicture;
    const fits = data.cells.filter((c) => c.status === "feasible" || c.status === "infeasible");
    out.push({
      level: "warning",
      text: `Out of memory in ${oom.length} cell${oom.length === 1 ? "" : "s"}, first at ${lightest.label}; ${data.counts.skipped} heavier cell${data.counts.skipped === 1 ? " was" : "s were"} skipped.${fits.length > 0 ? ` The memory boundary: ${boundary(data, oom)}.` : ""}`,
    });
  }
  const wontFit = data.counts.wont_fit;
  if (wontFit > 0)
    out.push({
      level: "info",
      text: `${wontFit} cell${wontFit === 1 ? "" : "s"} not run: the memory estimate exceeded what was available.`,
    });
  const infeasible = data.cells.filter((c) => c.status === "infeasible" && c.reason !== null);
  const ttft = infeasible.filter((c) => /TTFT/.test(c.reason as string)).length;
  if (infeasible.length > 0 && ttft === infeasible.length)
    out.push({
      level: "info",
      text: `Every infeasible cell (${ttft}) missed the TTFT p95 budget: requests queue for a slot; more parallel slots or less load meet it.`,
    });
  // What the gate costs: the fastest cell measured against the best one that passed.
  const fastest = data.cells
    .filter((c) => ran(c) && c.output_tokens_per_s !== null)
    .sort((a, b) => (b.output_tokens_per_s as number) - (a.output_tokens_per_s as number))[0];
  const best = data.cells.find((c) => c.index === data.best_cell);
  if (
    data.objective === "throughput" &&
    fastest !== undefined &&
    best !== undefined &&
    fastest.status !== "feasible" &&
    best.output_tokens_per_s !== null
  ) {
    const cost = 1 - best.output_tokens_per_s / (fastest.output_tokens_per_s as number);
    out.push({
      level: "info",
      text: `The gate costs ${(cost * 100).toFixed(1)} % of throughput: the fastest cell measured, ${fastest.label} (${formatValue(fastest.output_tokens_per_s)} tok/s), did not pass (${fastest.reason}); the best that did gives ${formatValue(best.output_tokens_per_s)} tok/s.`,
    });
  }
  if (data.counts.feasible === 0 && data.cells.length > 0)
    out.push({
      level: "warning",
      text: "No cell passed the gate: there is no best configuration in this sweep.",
    });
  return out;
}

/** Per numeric axis: the highest value below every out-of-memory cell that ran, and the lowest value with one. */
function boundary(data: SweepReportData, oom: SweepCellPicture[]): string {
  const parts: string[] = [];
  for (const axis of data.axes) {
    const numeric = axis.values.filter((v): v is number => typeof v === "number");
    if (numeric.length !== axis.values.length) continue;
    const failing = oom.map((c) => c.values[axis.name]).filter((v): v is number => typeof v === "number");
    const passing = data.cells
      .filter((c) => c.status === "feasible" || c.status === "infeasible")
      .map((c) => c.values[axis.name])
      .filter((v): v is number => typeof v === "number");
    if (failing.length === 0 || passing.length === 0) continue;
    const firstFail = Math.min(...failing);
    const lastPass = Math.max(...passing.filter((v) => v < firstFail), Number.NEGATIVE_INFINITY);
    if (Number.isFinite(lastPass) && firstFail > lastPass)
      parts.push(`${axis.name}: no cell ran out of memory up to ${lastPass}, the first did at ${firstFail}`);
  }
  return parts.length === 0 ? "no single axis explains it" : parts.join("; ");
}
