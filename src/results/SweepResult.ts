/** A value of a sweep axis: a number (context size, concurrency), a name (a KV type, a model file) or a switch. */
export type AxisValue = number | string | boolean;

/**
 * How a cell of a sweep ended:
 * - `feasible`: measured, and every replicate passed the gate;
 * - `infeasible`: measured without errors, but a replicate failed the gate (too slow, short
 *   output, a stop-token leak, an untrusted figure);
 * - `failed`: requests failed, or the server failed to start or died (the failure class says how);
 * - `skipped`: not run, because a lighter cell failed in a way that means memory;
 * - `wont_fit`: not run, because the memory estimate exceeds what is available.
 */
export type CellStatus = "feasible" | "infeasible" | "failed" | "skipped" | "wont_fit";

/** Every cell status, in the order docs list them. */
export const CELL_STATUSES: readonly CellStatus[] = [
  "feasible",
  "infeasible",
  "failed",
  "skipped",
  "wont_fit",
];

/** How a sweep ended; `running` only while it runs. */
export type SweepStatus = "running" | "completed" | "interrupted" | "aborted";

/** One check of the feasibility gate (see `sweep/evaluateGate.ts`). */
export interface GateCheck {
  check: string;
  ok: boolean;
  /** The measured value, when the check has one (a p95, a count). */
  value: number | null;
  /** The limit it was held to; null when there is none. */
  limit: number | null;
  /** One line for people. */
  detail: string;
}

/** A distinct failure seen among a cell's requests. */
export interface ErrorNote {
  /** HTTP status; null when there was none. */
  status: number | null;
  /** Stable code (`REQUEST_HTTP_ERROR`, ...). */
  code: string;
  /** The error text (control characters escaped, at most 200 characters). */
  error: string;
  /** Requests that failed this way. */
  count: number;
}

/** Percentiles of a cell's distribution; p95 (and p99) is the maximum when there are too few samples for it (under 20, 100). */
export interface CellPercentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** The figures of one measurement of a cell, or of a cell (each the median over its replicates). */
export interface CellFigures {
  ttft_ms: CellPercentiles;
  itl_ms: CellPercentiles;
  e2e_ms: CellPercentiles;
  output_tokens_per_s: number | null;
  requests_per_s: number | null;
  /** Requests per second that met every budget on their own. */
  goodput_rps: number | null;
  /** Share of the requests that met every budget, 0 to 1. */
  goodput_share: number | null;
  requests: number;
  failed: number;
}

/** A figure of a cell by its path, e.g. `output_tokens_per_s` or `ttft_ms.p95`. */
export type FigurePath = "output_tokens_per_s" | "requests_per_s" | "goodput_rps" | "ttft_ms.p95";

/** Reads a figure by its path; null when unknown. */
export function figureAt(figures: CellFigures | null | undefined, path: FigurePath): number | null {
  if (figures === null || figures === undefined) return null;
  const value = path === "ttft_ms.p95" ? figures.ttft_ms.p95 : figures[path];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** What a sweep ranks its cells by (`SweepSpec.objective`). */
export type SweepObjectiveName = "throughput" | "goodput" | "latency" | "requests";

/**
 * The figure an objective ranks by, which way is better, and its unit: the sweep's best cell and
 * every picture of a stored sweep read it from here.
 */
export function objectiveFigure(objective: SweepObjectiveName): {
  field: FigurePath;
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
      return { field: "ttft_ms.p95", higher_is_better: false, unit: "ms TTFT p95" };
  }
}

/** One replicate of a cell: an ordinary stored run. */
export interface ReplicateResult {
  replicate: number;
  run_id: string;
  feasible: boolean;
  /** Requests failed or the run stopped early (not a gate-only failure). */
  errors: boolean;
  reason: string | null;
  figures: CellFigures;
  checks: GateCheck[];
  notes: ErrorNote[];
}

/** A cell's workload values; `concurrency` null means no cap (open loop). */
export interface CellWorkloadValues {
  concurrency: number | null;
  prompt_tokens: number;
  max_tokens: number;
  rate?: number;
}

/** One cell of a sweep, as `--json` prints it and the database keeps it. */
export interface CellResult {
  /** Position in the run order. */
  index: number;
  /** Stable identity (knob and workload values). */
  key: string;
  knobs: Record<string, AxisValue>;
  workload: CellWorkloadValues;
  status: CellStatus;
  /** Why it is not feasible, in one line; null when it is. */
  reason: string | null;
  /** The failure class when a server failed (`oom`, `crash`, `ready_timeout`, `bad_args`, `port_in_use`). */
  failure: string | null;
  /** Whether the failure means memory (an OOM, or request errors above a lighter cell that passed). */
  memory_failure: boolean;
  /** Up to three distinct (status, error) pairs seen among the requests. */
  notes: ErrorNote[];
  /** The first replicate's run; null when nothing ran. */
  run_id: string | null;
  /** Every replicate's run. */
  run_ids: string[];
  /** Median over the replicates; null when nothing was measured. */
  summary: CellFigures | null;
  replicates: ReplicateResult[];
  /** The cell whose failure caused this one to be skipped. */
  skipped_because: number | null;
  /** The server log of the launch that served or failed this cell. */
  log_path: string | null;
}

/** Where a sweep's wall time went, in milliseconds. */
export interface SweepTiming {
  wall_ms: number;
  /** Measured phases of the runs: from each run's first measured send to its last end. */
  measuring_ms: number;
  /** Starting servers and waiting until they answer (the embedded engine: loading, creating contexts). */
  launching_ms: number;
  /** Warmup requests and each run's setup (prompts, tokenizer) around the measured phase. */
  warmup_ms: number;
  /** Stopping servers and waiting for their ports. */
  stopping_ms: number;
  /** Everything else: memory pre-checks, storage, bookkeeping. */
  other_ms: number;
  launches: number;
}

/** One axis of a sweep. */
export interface SweepAxis {
  name: string;
  /** A server knob (one launch per combination) or a workload axis (cells of one launch). */
  kind: "knob" | "workload";
  values: AxisValue[];
  /** `ascending`: later values are heavier; `none`: unordered alternatives. */
  order: "ascending" | "none";
}

/** How far an axis went. */
export interface AxisLimits {
  axis: string;
  values: AxisValue[];
  /** The largest value at which at least one cell was feasible; null when none was. */
  highest_passing: AxisValue | null;
  /** The smallest value at which no cell was feasible (failed, infeasible, skipped or won't fit); null when every value had a feasible cell. */
  first_failing: AxisValue | null;
}

/** The whole result of a sweep: what `--json` prints and the terminal report reads. */
export interface SweepResult {
  sweep_id: string;
  /** `incomplete` when read back from a sweep whose process died. */
  status: SweepStatus | "incomplete";
  status_reason: string | null;
  /** What the best cell maximises (`throughput`, `goodput`, `requests`) or minimises (`latency`). */
  objective: string;
  /** The cell figure the objective reads, and its unit. */
  objective_field: FigurePath;
  objective_unit: string;
  higher_is_better: boolean;
  axes: SweepAxis[];
  planned_cells: number;
  /** Every finished cell, in run order (a cell not yet run is absent). */
  cells: CellResult[];
  /** Index of the best feasible cell; null when none is feasible. */
  best_cell: number | null;
  /** Per axis with more than one value. */
  axis_limits: AxisLimits[];
  timing: SweepTiming | null;
}
