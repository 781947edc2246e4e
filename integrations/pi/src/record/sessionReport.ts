import { StatsAccumulator, type TrustFlag } from "tokbench";
import type { CallLogRecord } from "./CallLogRecord.js";

/**
 * Flags that say something about the server or the call rather than warn about a figure: in an
 * agent session nearly every call stops before its token limit and reuses the cached prompt.
 */
const INFORMATIONAL_FLAGS: ReadonlySet<TrustFlag> = new Set<TrustFlag>(["short_output", "prefix_cache_hit"]);

/** Calls listed one by one in the report (the latest). */
const LISTED_CALLS = 20;

/** The flags of a record that warn about its figures. */
export function warningFlags(record: CallLogRecord): TrustFlag[] {
  return record.flags.filter((f) => !INFORMATIONAL_FLAGS.has(f));
}

/** The status-line text for the last call, e.g. `TTFT 312 ms · 54.1 tok/s`. */
export function statusText(record: CallLogRecord): string {
  if (record.error !== null && record.output_tokens === 0) return `LLM call failed (${record.error.code})`;
  const parts = [
    `TTFT ${ms(record.ttft_ms)}`,
    `${tps(record.decode_tps)}${record.decode_tps_source === "server" ? " (server)" : ""}`,
  ];
  const warnings = warningFlags(record);
  if (warnings.length > 0) parts.push(`! ${warnings.join(", ")}`);
  return parts.join(" · ");
}

/**
 * The `/llm-metrics` report: per-metric count, p50 and p95 over the session's successful calls
 * (tokbench's distributions: p95 needs 20 samples), then the latest calls one by one.
 */
export function sessionReport(records: readonly CallLogRecord[]): string[] {
  if (records.length === 0) return ["No LLM calls measured in this session yet."];
  const ok = records.filter((r) => r.error === null);
  const failed = records.length - ok.length;
  const lines = [`LLM calls this session: ${records.length}${failed > 0 ? ` (${failed} failed)` : ""}`];
  const rows: [string, (r: CallLogRecord) => number | null, (v: number | null) => string][] = [
    ["TTFT", (r) => r.ttft_ms, ms],
    ["decode", (r) => r.decode_tps, tps],
    ["prefill", (r) => r.prefill_tps, tps],
    ["end-to-end", (r) => r.e2e_ms, ms],
  ];
  lines.push(`${pad("", 11)}${pad("count", 7)}${pad("p50", 13)}p95`);
  for (const [name, pick, unit] of rows) {
    const acc = new StatsAccumulator();
    for (const r of ok) {
      const v = pick(r);
      if (v !== null) acc.add(v);
    }
    const s = acc.stats();
    const cell = (v: number | null): string => (v === null ? "-" : unit(v));
    lines.push(`${pad(name, 11)}${pad(String(s.count), 7)}${pad(cell(s.p50), 13)}${cell(s.p95)}`);
  }
  const listed = records.slice(-LISTED_CALLS);
  lines.push("", `${records.length > LISTED_CALLS ? `Last ${LISTED_CALLS} calls` : "Calls"}:`);
  for (const r of listed) {
    const what =
      r.error !== null && r.output_tokens === 0
        ? `failed ${r.error.code}`
        : `TTFT ${ms(r.ttft_ms)}, ${tps(r.decode_tps)}, prefill ${tps(r.prefill_tps)}, ${r.input_tokens ?? "?"} in / ${r.output_tokens} out`;
    const flags = warningFlags(r);
    lines.push(
      `#${r.call_index} ${r.model ?? "?"}: ${what}${flags.length > 0 ? ` [${flags.join(", ")}]` : ""}`,
    );
  }
  return lines;
}

function ms(value: number | null): string {
  if (value === null) return "-";
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(1)} ms`;
}

function tps(value: number | null): string {
  if (value === null) return "- tok/s";
  return value >= 100 ? `${Math.round(value)} tok/s` : `${value.toFixed(1)} tok/s`;
}

function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text + " ".repeat(width - text.length);
}
