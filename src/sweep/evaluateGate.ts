import type { DistributionStats } from "../results/DistributionStats.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import type { RunResult } from "../results/RunResult.js";
import type { CellFigures, CellPercentiles, ErrorNote, GateCheck } from "../results/SweepResult.js";
import { cleanLogLine } from "../servers/classifyFailure.js";
import type { SweepBudgets } from "./SweepSpec.js";

/** The checks of the feasibility gate, in the order they are reported. */
export const GATE_CHECKS = [
  "completed",
  "errors",
  "ttft_p95",
  "itl_p95",
  "output_tokens",
  "stop_token_leak",
  "trusted_figures",
] as const;
export type GateCheckName = (typeof GATE_CHECKS)[number];

/** The gate's verdict on one measurement. */
export interface GateVerdict {
  feasible: boolean;
  checks: GateCheck[];
  /** The failed checks' details, joined; null when feasible. */
  reason: string | null;
  /** Up to three distinct (status, error) pairs among the failed requests. */
  notes: ErrorNote[];
  figures: CellFigures;
}

/** A p95 for the gate: the summary's, or the maximum when there are too few samples for a p95 (under 20). */
function p95(stats: DistributionStats): { value: number | null; estimated: boolean } {
  if (stats.p95 !== null) return { value: stats.p95, estimated: false };
  return { value: stats.max, estimated: stats.max !== null };
}

/** p50, p95, p99 of a distribution, a missing high percentile replaced by the maximum. */
function percentiles(stats: DistributionStats): CellPercentiles {
  return { p50: stats.p50, p95: stats.p95 ?? stats.max, p99: stats.p99 ?? stats.max };
}

function errorNotes(requests: Iterable<RequestRecord>): ErrorNote[] {
  const notes = new Map<string, ErrorNote>();
  for (const r of requests) {
    if (r.error === null) continue;
    const error = cleanLogLine(r.error.message).slice(0, 200);
    const key = `${r.error.status}\u0000${r.error.code}\u0000${error}`;
    const note = notes.get(key);
    if (note !== undefined) note.count++;
    else if (notes.size < 3) notes.set(key, { status: r.error.status, code: r.error.code, error, count: 1 });
  }
  return [...notes.values()];
}

/** Whether one request met every budget: it succeeded, produced its full output, and its TTFT and mean ITL (TPOT) are within the limits. */
function metBudgets(r: RequestRecord, budgets: SweepBudgets, maxTokens: number): boolean {
  if (r.error !== null || r.output_tokens < maxTokens) return false;
  if (budgets.max_ttft_p95_ms !== null && (r.ttft_ms === null || r.ttft_ms > budgets.max_ttft_p95_ms))
    return false;
  if (budgets.max_itl_p95_ms !== null && r.tpot_ms !== null && r.tpot_ms > budgets.max_itl_p95_ms)
    return false;
  return true;
}

/**
 * The feasibility gate of one measured cell. It passes when every check does:
 * - `completed`: the run was not stopped early (`--max-errors`, a dead server);
 * - `errors`: no request failed;
 * - `ttft_p95` / `itl_p95`: the p95 within its budget (with fewer than 20 samples, the maximum,
 *   which is all a p95 of so few samples can be);
 * - `output_tokens`: every request produced the tokens it asked for (no `short_output`);
 * - `stop_token_leak`: no chat-template stop token in any output;
 * - `trusted_figures`: no figure tokbench could not trust (`buffered_stream`, `impossible_decode_rate`).
 *
 * Goodput is the requests per second, over the measured duration, that met every budget on their
 * own: succeeded, full output, TTFT within the TTFT budget and mean inter-token latency (TPOT)
 * within the ITL budget.
 */
export function evaluateGate(result: RunResult, budgets: SweepBudgets, maxTokens: number): GateVerdict {
  const s = result.summary;
  const checks: GateCheck[] = [];
  const add = (
    check: GateCheckName,
    ok: boolean,
    value: number | null,
    limit: number | null,
    detail: string,
  ) => checks.push({ check, ok, value, limit, detail });

  add(
    "completed",
    result.status === "completed",
    null,
    null,
    result.status === "completed"
      ? "ran to the end"
      : `run ${result.status}: ${result.status_reason ?? ""}`.trim(),
  );
  const failed = s.requests.failed;
  add("errors", failed === 0, failed, 0, `${failed} of ${s.requests.total} requests failed`);
  const ttft = p95(s.ttft_ms);
  if (budgets.max_ttft_p95_ms !== null) {
    const ok = ttft.value !== null && ttft.value <= budgets.max_ttft_p95_ms;
    add(
      "ttft_p95",
      ok,
      ttft.value,
      budgets.max_ttft_p95_ms,
      `TTFT p95${ttft.estimated ? " (max, < 20 samples)" : ""} ${fmt(ttft.value)} ms ${ok ? "<=" : ">"} ${budgets.max_ttft_p95_ms} ms`,
    );
  }
  const itl = p95(s.itl_ms);
  if (budgets.max_itl_p95_ms !== null) {
    const ok = itl.value !== null && itl.value <= budgets.max_itl_p95_ms;
    add(
      "itl_p95",
      ok,
      itl.value,
      budgets.max_itl_p95_ms,
      `ITL p95${itl.estimated ? " (max, < 20 samples)" : ""} ${fmt(itl.value)} ms ${ok ? "<=" : ">"} ${budgets.max_itl_p95_ms} ms`,
    );
  }
  const short = s.flags.short_output ?? 0;
  add("output_tokens", short === 0, short, 0, `${short} requests produced fewer than ${maxTokens} tokens`);
  const leaks = s.flags.stop_token_leak ?? 0;
  add("stop_token_leak", leaks === 0, leaks, 0, `${leaks} outputs contain a chat template's stop token`);
  const buffered = s.flags.buffered_stream ?? 0;
  const impossible = s.flags.impossible_decode_rate ?? 0;
  add(
    "trusted_figures",
    buffered + impossible === 0,
    buffered + impossible,
    0,
    `${buffered} buffered streams, ${impossible} impossible decode rates`,
  );

  let met = 0;
  for (const r of result.requests) if (metBudgets(r, budgets, maxTokens)) met++;
  const seconds = s.duration_ms / 1000;
  const total = s.requests.total;
  const failedChecks = checks.filter((c) => !c.ok);
  return {
    feasible: failedChecks.length === 0,
    checks,
    reason: failedChecks.length === 0 ? null : failedChecks.map((c) => c.detail).join("; "),
    notes: errorNotes(result.requests),
    figures: {
      ttft_ms: percentiles(s.ttft_ms),
      itl_ms: percentiles(s.itl_ms),
      e2e_ms: percentiles(s.e2e_ms),
      output_tokens_per_s: s.output_tokens_per_s,
      requests_per_s: s.requests_per_s,
      goodput_rps: seconds > 0 ? met / seconds : null,
      goodput_share: total > 0 ? met / total : null,
      requests: total,
      failed,
    },
  };
}

function fmt(value: number | null): string {
  return value === null ? "-" : value >= 100 ? value.toFixed(0) : value.toPrecision(3);
}
