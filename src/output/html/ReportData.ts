import type { Comparison } from "../../compare/compareRuns.js";

/** Percentiles marked on a distribution's pictures. */
export interface MarkedPercentiles {
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
}

/** One latency distribution, ready to draw: histogram bins and CDF points. */
export interface DistributionPicture {
  metric: string;
  label: string;
  unit: string;
  count: number;
  bins: { from: number; width: number; counts: number[] };
  /** [value, cumulative fraction], at most a few hundred points. */
  cdf: [number, number][];
  percentiles: MarkedPercentiles;
}

/** Everything the report shows for one run; every string is raw here and escaped when rendered. */
export interface RunReportData {
  run_id: string;
  model: string | null;
  target: string | null;
  workload: string | null;
  started_at: string;
  ended_at: string | null;
  status: string;
  status_reason: string | null;
  tool_version: string;
  tags: string[];
  machine: [string, string][];
  configuration: [string, string][];
  flags: { flag: string; count: number; meaning: string }[];
  requests: { total: number; succeeded: number; failed: number; cancelled: number };
  errors: { code: string; count: number; example: string }[];
  summary_rows: {
    label: string;
    n: number;
    mean: number | null;
    p50: number | null;
    p90: number | null;
    p95: number | null;
    p99: number | null;
    max: number | null;
  }[];
  distributions: DistributionPicture[];
  /** Per-request timeline of an even sample of requests: [planned, sent, first token or null, end, failed 0/1] in ms since start. */
  timeline: {
    every: number;
    total: number;
    requests: [number, number, number | null, number, number][];
  } | null;
  /** Throughput and requests in flight per time bin. */
  throughput: {
    bin_s: number;
    t_s: number[];
    output_tps: number[];
    completed_rps: number[];
    in_flight: number[];
  } | null;
  resources: {
    t_s: number[];
    rss_mb: (number | null)[];
    cpu_percent: (number | null)[];
    gpu_memory_mb: (number | null)[];
    gpu_utilization_percent: (number | null)[];
    disk_read_mb: (number | null)[];
    disk_write_mb: (number | null)[];
  } | null;
  tests: {
    name: string;
    avg_ts: number | null;
    stddev_ts: number | null;
    samples: number[];
    engine_ts: number | null;
    ceiling_tps: number | null;
    efficiency_pct: number | null;
  }[];
  server_vs_client: { label: string; client: number | null; server: number | null }[];
  hints: { level: "info" | "warning"; text: string }[];
}

/** A value of a sweep axis or a tune knob, as stored. */
export type ReportAxisValue = number | string | boolean;

/** One measured or unmeasured cell of a sweep, flattened for the page. */
export interface SweepCellPicture {
  index: number;
  /** `ctx=2048 parallel=4 concurrency=8`: every axis value of the cell. */
  label: string;
  /** The cell's value on each axis, by axis name. */
  values: Record<string, ReportAxisValue | null>;
  status: "feasible" | "infeasible" | "failed" | "skipped" | "wont_fit";
  /** Why it is not feasible (with the failure class, e.g. `oom`); null when it is. */
  reason: string | null;
  /** The objective's figure (median over replicates); null when not measured. */
  value: number | null;
  output_tokens_per_s: number | null;
  ttft_p95_ms: number | null;
  itl_p95_ms: number | null;
  requests_per_s: number | null;
  replicates: number;
  run_ids: string[];
}

/** A tile of the sweep heatmap: the best cell among those sharing its two axis values. */
export interface HeatmapTile {
  x: string;
  y: string;
  /** The tile's colour: its best feasible cell's objective value; null when none is feasible. */
  value: number | null;
  /** `feasible` when a cell of the tile is; otherwise the status of its cells (`failed` over `infeasible` over ...). */
  status: SweepCellPicture["status"];
  /** The short text drawn inside the tile. */
  text: string;
  /** One line per cell of the tile (hover): its other axes, status, value and reason. */
  lines: string[];
}

/** A sweep in the report; every string raw here, escaped when rendered. */
export interface SweepReportData {
  sweep_id: string;
  status: string;
  status_reason: string | null;
  started_at: string;
  ended_at: string | null;
  tool_version: string;
  /** What was launched or measured, as [label, value] lines (provider, model, server command, url...). */
  setup: [string, string][];
  /** The machine of its first stored run; null when none is stored. */
  machine: [string, string][] | null;
  objective: string;
  objective_label: string;
  objective_unit: string;
  higher_is_better: boolean;
  planned_cells: number;
  /** Axes with more than one value, knobs first, then workload axes. */
  axes: { name: string; kind: "knob" | "workload"; values: ReportAxisValue[] }[];
  /** Axes with a single value: [name, value]. */
  fixed: [string, string][];
  cells: SweepCellPicture[];
  best_cell: number | null;
  counts: Record<SweepCellPicture["status"], number>;
  /** The two main axes; null when fewer than two axes vary (then the curves say it all). */
  heatmap: {
    x_axis: string;
    y_axis: string;
    x_values: string[];
    y_values: string[];
    /** Axes folded into each tile (the tile shows their best cell). */
    folded: string[];
    tiles: HeatmapTile[];
    min: number | null;
    max: number | null;
  } | null;
  /** Throughput and TTFT p95 against the load axis (concurrency, else rate), one series per value of the other varying axes. */
  curves: {
    x_axis: string;
    series: {
      label: string;
      points: {
        x: number;
        tps: number | null;
        ttft_p95_ms: number | null;
        feasible: boolean;
        cell: number;
      }[];
    }[];
    /** Series not drawn (too many to read). */
    omitted: number;
  } | null;
  /** Every measured cell as (TTFT p95, output tok/s); `front` lists the feasible cells no other feasible cell beats on both. */
  pareto: {
    points: { cell: number; ttft_p95_ms: number; tps: number; feasible: boolean; label: string }[];
    front: number[];
  };
  hints: { level: "info" | "warning"; text: string }[];
}

/** One trial of a tune, for the page. */
export interface TuneTrialPicture {
  index: number;
  stage: string;
  kind: string;
  knobs: string;
  status: "feasible" | "infeasible" | "failed";
  failure: string | null;
  reason: string | null;
  value: number | null;
  spread: number | null;
  ttft_p95_ms: number | null;
  /** Each replicate's objective value (null where it has none), then its status when not `ok`. */
  replicates: { value: number | null; status: string; feasible: boolean }[];
  /** The best feasible value after this trial; null before any feasible trial. */
  best_so_far: number | null;
  elapsed_ms: number;
}

/** A tune in the report; every string raw here, escaped when rendered. */
export interface TuneReportData {
  tune_id: string;
  status: string;
  exit_reason: string | null;
  exit_detail: string | null;
  started_at: string;
  ended_at: string | null;
  tool_version: string;
  setup: [string, string][];
  /** The machine of its first stored run (a live tune); null for a replay. */
  machine: [string, string][] | null;
  objective: string;
  objective_unit: string;
  higher_is_better: boolean;
  trials: TuneTrialPicture[];
  /** The recommendation and its recipe; null when the tune stored none (still running, or died). */
  recommendation: {
    model: string | null;
    knobs: string | null;
    command: string | null;
    env: [string, string][];
    bench_command: string | null;
    recipe_hash: string | null;
    value: number | null;
    baseline_value: number | null;
    gain: number | null;
    /** The trial that found it. */
    trial: number | null;
    drift_warning: string | null;
    rejected: { model: string; verdict: string; reason: string }[];
  } | null;
}

/** The whole report. */
export interface ReportData {
  generated_at: string;
  tool_version: string;
  runs: RunReportData[];
  comparison: Comparison | null;
  sweeps: SweepReportData[];
  tunes: TuneReportData[];
}
