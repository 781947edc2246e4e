import type { RequestRecord } from "../../results/RequestRecord.js";
import type { RunSummary } from "../../results/RunSummary.js";

/** A flat row: column name to a number, a string or null. */
export type FlatRow = Record<string, string | number | null>;

/** Columns of an exported request, in order: every `RequestRecord` field, nested ones flattened. */
export const REQUEST_COLUMNS = [
  "index",
  "planned_offset_ms",
  "sent_offset_ms",
  "dispatch_lag_ms",
  "status",
  "ttft_ms",
  "e2e_ms",
  "decode_ms",
  "prompt_tokens",
  "output_tokens",
  "token_source",
  "chunks",
  "decode_tps",
  "decode_tps_source",
  "tpot_ms",
  "prefill_tps",
  "flags",
  "error_code",
  "error_message",
  "error_status",
  "server_source",
  "server_prompt_tokens",
  "server_prompt_ms",
  "server_prefill_tps",
  "server_output_tokens",
  "server_decode_ms",
  "server_decode_tps",
  "server_cached_tokens",
] as const;

/** A request record as one flat row (flags joined with `;`), for spreadsheets. */
export function requestRow(r: RequestRecord): FlatRow {
  const s = r.server_timings;
  return {
    index: r.index,
    planned_offset_ms: r.planned_offset_ms,
    sent_offset_ms: r.sent_offset_ms,
    dispatch_lag_ms: r.dispatch_lag_ms,
    status: r.status,
    ttft_ms: r.ttft_ms,
    e2e_ms: r.e2e_ms,
    decode_ms: r.decode_ms,
    prompt_tokens: r.prompt_tokens,
    output_tokens: r.output_tokens,
    token_source: r.token_source,
    chunks: r.chunks,
    decode_tps: r.decode_tps,
    decode_tps_source: r.decode_tps_source,
    tpot_ms: r.tpot_ms,
    prefill_tps: r.prefill_tps,
    flags: r.flags.join(";"),
    error_code: r.error?.code ?? null,
    error_message: r.error?.message ?? null,
    error_status: r.error?.status ?? null,
    server_source: s?.source ?? null,
    server_prompt_tokens: s?.prompt_tokens ?? null,
    server_prompt_ms: s?.prompt_ms ?? null,
    server_prefill_tps: s?.prefill_tps ?? null,
    server_output_tokens: s?.output_tokens ?? null,
    server_decode_ms: s?.decode_ms ?? null,
    server_decode_tps: s?.decode_tps ?? null,
    server_cached_tokens: s?.cached_tokens ?? null,
  };
}

export const SUMMARY_COLUMNS = [
  "metric",
  "count",
  "mean",
  "stddev",
  "min",
  "p50",
  "p90",
  "p95",
  "p99",
  "max",
] as const;

/** The summary as rows: one per distribution, then one per scalar figure (in `mean`). */
export function summaryRows(summary: RunSummary): FlatRow[] {
  const rows: FlatRow[] = [];
  for (const [metric, value] of Object.entries(summary)) {
    if (value !== null && typeof value === "object" && "count" in value && "p50" in value) {
      const d = value as Record<string, number | null>;
      rows.push({
        metric,
        count: d.count ?? 0,
        mean: d.mean ?? null,
        stddev: d.stddev ?? null,
        min: d.min ?? null,
        p50: d.p50 ?? null,
        p90: d.p90 ?? null,
        p95: d.p95 ?? null,
        p99: d.p99 ?? null,
        max: d.max ?? null,
      });
    }
  }
  const r = summary.requests;
  for (const [metric, value] of [
    ["requests_total", r.total],
    ["requests_succeeded", r.succeeded],
    ["requests_failed", r.failed],
    ["requests_cancelled", r.cancelled],
    ["output_tokens_per_s", summary.output_tokens_per_s],
    ["input_tokens_per_s", summary.input_tokens_per_s],
    ["requests_per_s", summary.requests_per_s],
    ["duration_ms", summary.duration_ms],
    ["total_output_tokens", summary.total_output_tokens],
    ["total_prompt_tokens", summary.total_prompt_tokens],
  ] as const) {
    rows.push({
      metric,
      count: null,
      mean: value,
      stddev: null,
      min: null,
      p50: null,
      p90: null,
      p95: null,
      p99: null,
      max: null,
    });
  }
  return rows;
}

export const TEST_COLUMNS = [
  "test",
  "model_filename",
  "model_type",
  "backends",
  "n_prompt",
  "n_gen",
  "n_depth",
  "n_threads",
  "n_batch",
  "n_ubatch",
  "n_gpu_layers",
  "type_k",
  "type_v",
  "flash_attn",
  "n_parallel",
  "avg_ts",
  "stddev_ts",
  "samples_ts",
  "engine_ts",
  "ceiling_tps",
  "efficiency_pct",
  "load_cold_ms",
  "load_warm_ms",
  "status",
  "error",
] as const;

/** A llama-bench-style row, flat (repetitions joined with `;`). */
export function testRow(t: Record<string, unknown>): FlatRow {
  const row: FlatRow = {};
  for (const c of TEST_COLUMNS) {
    const v = t[c];
    row[c] = Array.isArray(v)
      ? v.join(";")
      : typeof v === "number" || typeof v === "string"
        ? v
        : typeof v === "boolean"
          ? String(v)
          : null;
  }
  return row;
}
