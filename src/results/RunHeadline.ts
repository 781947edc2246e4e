import type { RunSummary } from "./RunSummary.js";

/** The few figures `tokbench runs` prints for a run; each null when the run has none. */
export interface RunHeadline {
  /** Median time to first token, ms. */
  ttft_p50_ms: number | null;
  /** Median inter-token latency, ms. */
  itl_p50_ms: number | null;
  /** Output tokens per second over the run. */
  output_tokens_per_s: number | null;
  /** Prompt processing rate of the first `pp` test (llama-bench `avg_ts`). */
  pp_ts: number | null;
  /** Generation rate of the first `tg` test (llama-bench `avg_ts`). */
  tg_ts: number | null;
}

const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The headline of a finished run, from its summary and test rows. */
export function runHeadline(
  summary: RunSummary | null,
  tests: readonly Record<string, unknown>[],
): RunHeadline {
  const ok = tests.filter((t) => t.status === undefined || t.status === "ok");
  const pp = ok.find((t) => num(t.n_prompt) !== null && (t.n_prompt as number) > 0 && t.n_gen === 0);
  const tg = ok.find((t) => t.n_prompt === 0 && num(t.n_gen) !== null && (t.n_gen as number) > 0);
  return {
    ttft_p50_ms: summary?.ttft_ms.p50 ?? null,
    itl_p50_ms: summary?.itl_ms.p50 ?? null,
    output_tokens_per_s: summary !== null && summary.requests.total > 0 ? summary.output_tokens_per_s : null,
    pp_ts: num(pp?.avg_ts),
    tg_ts: num(tg?.avg_ts),
  };
}
