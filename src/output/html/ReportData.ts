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

/** The whole report. */
export interface ReportData {
  generated_at: string;
  tool_version: string;
  runs: RunReportData[];
  comparison: Comparison | null;
}
