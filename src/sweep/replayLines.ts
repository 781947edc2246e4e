import type { CellResult } from "../results/SweepResult.js";

/** One line of the replay format `tokbench tune --replay` reads (issue 11): one measurement. */
export interface ReplayLine {
  knobs: Record<string, unknown>;
  /** The workload the measurement ran (tune replays one workload: filter on it). */
  workload: Record<string, unknown>;
  status: "ok" | "oom" | "crash" | "timeout" | "error";
  /** Whether the sweep's gate passed this replicate (with the sweep's budgets). */
  feasible: boolean;
  output_tokens_per_s: number | null;
  ttft_p95_ms: number | null;
  itl_p95_ms: number | null;
  requests_per_s: number | null;
  goodput_rps: number | null;
  /** The cell and the replicate it comes from. */
  cell: number;
  replicate: number | null;
}

function statusOf(cell: CellResult, errors: boolean): ReplayLine["status"] {
  if (cell.failure === "oom" || cell.status === "wont_fit") return "oom";
  if (cell.failure === "crash") return "crash";
  if (cell.failure === "ready_timeout") return "timeout";
  if (cell.failure !== null || errors) return "error";
  return "ok";
}

/**
 * A sweep's cells as replay lines: one line per measured replicate (several lines with the same
 * knobs are replicates, in order); a cell that never ran because its server failed or would not
 * fit gives one line with its failure and no figures; a skipped cell gives none (tune then treats
 * that configuration as not runnable, which is what the skip concluded).
 */
export function replayLines(cells: readonly CellResult[]): ReplayLine[] {
  const lines: ReplayLine[] = [];
  for (const cell of cells) {
    if (cell.status === "skipped") continue;
    const workload = { ...cell.workload };
    if (cell.replicates.length === 0) {
      lines.push({
        knobs: cell.knobs,
        workload,
        status: statusOf(cell, true),
        feasible: false,
        output_tokens_per_s: null,
        ttft_p95_ms: null,
        itl_p95_ms: null,
        requests_per_s: null,
        goodput_rps: null,
        cell: cell.index,
        replicate: null,
      });
      continue;
    }
    cell.replicates.forEach((r, i) => {
      const last = i === cell.replicates.length - 1;
      lines.push({
        knobs: cell.knobs,
        workload,
        // A server death ends the last replicate measured.
        status: last && cell.failure !== null ? statusOf(cell, true) : r.errors ? "error" : "ok",
        feasible: r.feasible,
        output_tokens_per_s: r.figures.output_tokens_per_s,
        ttft_p95_ms: r.figures.ttft_ms.p95,
        itl_p95_ms: r.figures.itl_ms.p95,
        requests_per_s: r.figures.requests_per_s,
        goodput_rps: r.figures.goodput_rps,
        cell: cell.index,
        replicate: r.replicate,
      });
    });
  }
  return lines;
}
