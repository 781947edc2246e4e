import type { RequestError } from "../records/RequestObservation.js";

/** Where a request's output-token count can come from, best first. */
export const TOKEN_SOURCES = ["usage", "tokenizer", "chunks", "engine"] as const;

/** Where a request's output-token count came from. */
export type TokenSource = (typeof TOKEN_SOURCES)[number];

/** Every trust flag, in the order a record lists them. See docs/metrics.md. */
export const TRUST_FLAGS = [
  "buffered_stream",
  "chunk_count_estimate",
  "timing_mismatch",
  "short_output",
  "prefix_cache_hit",
  "approximate_prompt_length",
  "impossible_decode_rate",
  "usage_implausible",
  "timings_implausible",
  "stop_token_leak",
] as const;

/** Trust flags: reasons a request's figures should be read with care. See docs/metrics.md. */
export type TrustFlag = (typeof TRUST_FLAGS)[number];

/** Server-reported timing for one request, normalised. Rates in tokens per second. */
export interface ServerTimingsRecord {
  source: string;
  prompt_tokens: number | null;
  prompt_ms: number | null;
  prefill_tps: number | null;
  output_tokens: number | null;
  decode_ms: number | null;
  decode_tps: number | null;
  cached_tokens: number | null;
}

/**
 * One request's measured figures. Every field is defined in docs/metrics.md and computed in
 * `src/metrics/computeRequestMetrics.ts`; times are milliseconds, rates tokens per second.
 */
export interface RequestRecord {
  /** Position in the run (0-based, in send order); warmup requests are not recorded. */
  index: number;
  /** Planned send time, ms since the run's start. */
  planned_offset_ms: number;
  /** Actual send time, ms since the run's start. */
  sent_offset_ms: number;
  /** Actual minus planned send time. */
  dispatch_lag_ms: number;
  status: number | null;
  /** Null when no token arrived. */
  ttft_ms: number | null;
  e2e_ms: number;
  /** Last token minus first token; null with fewer than two token-bearing chunks. */
  decode_ms: number | null;
  prompt_tokens: number | null;
  output_tokens: number;
  token_source: TokenSource;
  /** Token-bearing chunks received. */
  chunks: number;
  /**
   * Decode rate: tokens after the first chunk / decode_ms. When the client cannot know it (buffered
   * stream, impossible figure) the server's own rate is reported instead, if it gave one; else null.
   */
  decode_tps: number | null;
  /** Whose figure `decode_tps` is: measured by tokbench (`client`) or reported by the server. */
  decode_tps_source: "client" | "server" | null;
  /** Mean time per output token after the first: decode_ms / tokens after the first chunk. */
  tpot_ms: number | null;
  /** Uncached prompt tokens (prompt_tokens minus those the server served from its prefix cache) / TTFT. */
  prefill_tps: number | null;
  flags: TrustFlag[];
  error: RequestError | null;
  server_timings: ServerTimingsRecord | null;
}
