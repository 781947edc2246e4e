import { parseReplayRecord, type ReplayRecord } from "../../src/tune/replaySource.js";

/** One replay line (`tokbench tune --replay` JSONL), before parsing. */
export type Line = Record<string, unknown>;

/** A measurement that ran: `tps` output tokens per second, TTFT p95 `ttft` ms, passed the gate or not. */
export function ok(knobs: Record<string, unknown>, tps: number, ttft = 100, feasible = true): Line {
  return {
    knobs,
    status: "ok",
    feasible,
    output_tokens_per_s: tps,
    ttft_p95_ms: ttft,
    itl_p95_ms: 10,
    requests_per_s: 1,
    goodput_rps: 1,
  };
}

/** The lines parsed as the replay source reads them. */
export function records(lines: Line[]): ReplayRecord[] {
  return lines.map((l, i) => parseReplayRecord(l, `line ${i + 1}`));
}
