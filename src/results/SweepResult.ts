import type { AxisValue } from "../search/Axis.js";

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

/** The figures of one measurement of a cell, or of a cell (the median over its replicates). */
export interface CellFigures {
  ttft_p50_ms: number | null;
  /** TTFT p95; with fewer than 20 requests, the maximum (all a p95 of so few samples can be). */
  ttft_p95_ms: number | null;
  ttft_p99_ms: number | null;
  itl_p50_ms: number | null;
  /** ITL p95; with fewer than 20 samples, the maximum. */
  itl_p95_ms: number | null;
  e2e_p95_ms: number | null;
  output_tokens_per_s: number | null;
  requests_per_s: number | null;
  /** Requests per second that met every budget on their own. */
  goodput_rps: number | null;
  /** Share of the requests that met every budget, 0 to 1. */
  goodput_share: number | null;
  requests: number;
  failed: number;
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
