import type { DistributionStats } from "../../results/DistributionStats.js";
import type { RequestRecord } from "../../results/RequestRecord.js";
import type { RunResult } from "../../results/RunResult.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { createTable } from "../createTable.js";
import { formatNumber } from "../formatNumber.js";
import { TERMINAL_WIDTH, wrapLines } from "../wrapText.js";
import { renderResources } from "./renderResources.js";

const ROWS: { key: keyof RunResult["summary"]; label: string }[] = [
  { key: "ttft_ms", label: "TTFT (ms)" },
  { key: "itl_ms", label: "inter-token latency (ms)" },
  { key: "tpot_ms", label: "time per output token (ms)" },
  { key: "e2e_ms", label: "end-to-end latency (ms)" },
  { key: "decode_tps", label: "decode rate (tok/s, per request)" },
  { key: "prefill_tps", label: "prefill rate (tok/s, prompt/TTFT)" },
  { key: "server_decode_tps", label: "server-reported decode (tok/s)" },
  { key: "server_prefill_tps", label: "server-reported prefill (tok/s)" },
  { key: "chunk_gap_ms", label: "chunk arrival gap (ms)" },
  { key: "dispatch_lag_ms", label: "harness dispatch lag (ms)" },
];

/**
 * Renders a run's summary as plain text for a terminal: the request counts, throughput, a table
 * of distributions, and any trust flags with what they mean. Reads the result only.
 */
export function renderRunSummary(result: RunResult): string {
  const s = result.summary;
  const lines: string[] = [];
  const status =
    result.status === "completed" ? "" : ` — ${result.status}: ${sanitizeText(result.status_reason ?? "")}`;
  lines.push(
    `requests: ${s.requests.succeeded} succeeded, ${s.requests.failed} failed` +
      (s.requests.cancelled > 0 ? `, ${s.requests.cancelled} cancelled` : "") +
      ` in ${formatNumber(s.duration_ms / 1000)} s${status}`,
  );
  for (const [code, count] of Object.entries(s.requests.errors_by_code))
    lines.push(`  ${count} × ${sanitizeText(code)}`);
  const firstError = firstFailure(result);
  if (firstError !== null) {
    lines.push(`  first error: ${sanitizeText(firstError.message)} [${firstError.code}]`);
  }
  if (s.requests.total > 0 && s.requests.succeeded === 0) {
    lines.push("no request succeeded: nothing was measured");
  } else if (s.requests.succeeded > 0 && s.total_output_tokens === 0) {
    lines.push(
      "no request generated a token: nothing was measured (the server stopped at once, or streamed its text in a field tokbench does not read)",
    );
  }
  lines.push(
    `throughput: ${formatNumber(s.output_tokens_per_s)} output tok/s, ${formatNumber(s.input_tokens_per_s)} prompt tok/s, ${formatNumber(s.requests_per_s)} req/s`,
  );
  const sources = Object.entries(s.token_sources)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  if (sources !== "") lines.push(`output tokens counted by: ${sources}`);

  const table = createTable({
    head: ["", "n", "mean", "p50", "p90", "p95", "p99", "max"],
    colAligns: ["left", "right", "right", "right", "right", "right", "right", "right"],
  });
  // The embedded engine reports its own counters; "server" would name something that is not there.
  const reporter = result.config.target === "embedded" ? "engine" : "server";
  for (const row of ROWS) {
    const d = s[row.key] as DistributionStats;
    if (d.count === 0) continue;
    table.push([
      row.label.replace("server-reported", `${reporter}-reported`),
      String(d.count),
      ...[d.mean, d.p50, d.p90, d.p95, d.p99, d.max].map(formatNumber),
    ]);
  }
  lines.push(table.toString());
  const resources = renderResources(result);
  if (resources !== "") lines.push(resources);
  // One flag per item, its meaning wrapped under it so every line fits a 100-column terminal.
  const flagText = Object.entries(s.flags)
    .filter(([, n]) => (n ?? 0) > 0)
    .flatMap(([flag, n]) =>
      wrapLines(
        `${flag}: ${n} request${n === 1 ? "" : "s"} — ${(FLAG_MEANING[flag] ?? "").replace("server", reporter)}`,
        TERMINAL_WIDTH,
        { first: "  ", rest: "    " },
      ),
    );
  if (flagText.length > 0) lines.push("trust flags:", ...flagText);
  lines.push("(percentiles need 10/20/100 samples for p90/p95/p99; '-' means too few)");
  return lines.join("\n");
}

/** The error of the first failed request, in the order requests were sent; null when none failed. */
function firstFailure(result: RunResult): RequestRecord["error"] {
  if (result.summary.requests.failed === 0) return null;
  let first: RequestRecord | null = null;
  for (const record of result.requests) {
    if (record.error !== null && (first === null || record.index < first.index)) first = record;
  }
  return first?.error ?? null;
}

/** One line per trust flag: what it means for the figures (docs/metrics.md has the definitions). */
export const FLAG_MEANING: Record<string, string> = {
  buffered_stream: "tokens arrived in bursts; client decode rate unknowable (server figure used where given)",
  chunk_count_estimate: "no usage or tokenizer: output tokens counted as chunks",
  timing_mismatch: "client and server decode rates differ by more than 20 %",
  short_output: "fewer tokens than requested",
  prefix_cache_hit: "the server served part of the prompt from its cache",
  approximate_prompt_length: "prompt length estimated, no tokenizer",
  impossible_decode_rate: "a decode rate (ours or the server's) above the hardware ceiling; not reported",
  usage_implausible:
    "the server's token counts cannot be true (negative, fractional, above max_tokens, ...); not used",
  timings_implausible:
    "the server's own timings cannot be true (negative, longer than the request, ...); not used",
  stop_token_leak: "a chat template's stop token appeared in the generated text",
};
