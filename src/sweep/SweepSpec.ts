import type { Axis } from "../search/Axis.js";
import type { ProviderName } from "../servers/ServerProvider.js";

/** The cell's figure the sweep ranks by, and the best cell's meaning. */
export type SweepObjective = "throughput" | "goodput" | "latency" | "requests";

/** Budgets of the feasibility gate. */
export interface SweepBudgets {
  /** TTFT p95 must be at most this, in milliseconds; null for no limit. Defaults to null. */
  max_ttft_p95_ms: number | null;
  /** Inter-token latency p95 must be at most this, in milliseconds; null for no limit. Defaults to null. */
  max_itl_p95_ms: number | null;
}

/** The workload axes: every combination is a cell of each server configuration. */
export interface WorkloadAxes {
  /** Requests in flight (closed loop), or the cap with `rate`. Empty: 1 without rate, no cap with it. */
  concurrency: number[];
  /** Open-loop arrival rates in requests per second; empty for a closed loop. */
  rate: number[];
  prompt_tokens: number[];
  max_tokens: number[];
}

/**
 * Everything a sweep is: stored with it, so `--resume` rebuilds the same plan. Plain JSON (axes of
 * numbers and strings), no secrets.
 */
export interface SweepSpec {
  /** The server to launch per configuration; `url` for a server already running at {@link url} (no knobs, nothing launched). */
  provider: ProviderName | "url";
  /** The running server's base URL for provider `url` (OpenAI: ending in /v1; Ollama: its root); null otherwise. */
  url?: string | null;
  /** The command template (`--server-cmd`), for the `template` provider; null otherwise. */
  server_cmd: string | null;
  /** Program to run instead of the provider's default (`--server-bin`); null for the default. */
  program: string[] | null;
  /** Readiness path for a template; null for the provider's. */
  ready_path: string | null;
  /** API to drive: `chat`, `completions` or `ollama`. */
  api: "chat" | "completions" | "ollama";
  /** Model name sent in requests; null to derive it (a model file's name). */
  model: string | null;
  /** Server knob axes, `model` (files) among them. */
  knob_axes: Axis[];
  workload: WorkloadAxes;
  /** Measured requests per cell and replicate. */
  requests: number;
  /** Unrecorded requests before each replicate. */
  warmup: number;
  /** Times each cell is measured; its figure is the median, feasible only if every replicate is. */
  replicates: number;
  budgets: SweepBudgets;
  objective: SweepObjective;
  /** Stop the whole sweep at the first failed cell (instead of skipping heavier cells). */
  abort_on_error: boolean;
  /** Per-launch limits, in seconds. */
  ready_timeout_s: number;
  stop_grace_s: number;
  /** Per-request limit in seconds (0: none). */
  request_timeout_s: number;
  /** Memory the pre-check allows (bytes); null to compare against available RAM (and GPU memory). */
  memory_budget_bytes: number | null;
  /** Address-space limit of each server process (`ulimit -v`, bytes); null for none. */
  server_memory_limit_bytes: number | null;
  /** Seed of prompts and arrivals. */
  seed: number;
}

/** A workload cell's values. `rate` only when the sweep has rates; `concurrency` null means no cap. */
export interface CellWorkload {
  concurrency: number | null;
  prompt_tokens: number;
  max_tokens: number;
  rate?: number;
}

/** A spec with every optional setting at its default (as `tokbench sweep` has them). */
export function sweepSpec(
  fields: Pick<SweepSpec, "provider" | "knob_axes"> &
    Partial<Omit<SweepSpec, "workload">> & {
      workload?: Partial<WorkloadAxes>;
    },
): SweepSpec {
  return {
    server_cmd: null,
    program: null,
    ready_path: null,
    api: fields.provider === "ollama" ? "ollama" : "chat",
    model: null,
    requests: 8,
    warmup: 1,
    replicates: 1,
    budgets: { max_ttft_p95_ms: null, max_itl_p95_ms: null },
    objective: "throughput",
    abort_on_error: false,
    ready_timeout_s: 300,
    stop_grace_s: 10,
    request_timeout_s: 600,
    memory_budget_bytes: null,
    server_memory_limit_bytes: null,
    seed: 0,
    ...fields,
    workload: {
      concurrency: fields.workload?.concurrency ?? [],
      rate: fields.workload?.rate ?? [],
      prompt_tokens: fields.workload?.prompt_tokens ?? [128],
      max_tokens: fields.workload?.max_tokens ?? [64],
    },
  };
}
