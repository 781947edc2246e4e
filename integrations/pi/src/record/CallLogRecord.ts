import type { RequestError, TokenSource, TrustFlag } from "tokbench";

/** Version of the {@link CallLogRecord} format; raised on any change a parser would notice. */
export const LOG_SCHEMA_VERSION = 1;

/**
 * Monotonic times of one call, in milliseconds from the call's start (the `before_provider_request`
 * event). Null when the event did not happen or could not be seen. See README.md, "Phases".
 */
export interface RawTimestamps {
  /** The request went to the server: 0 with pi's own providers (pi exposes no later hook); the socket write with the tokbench provider. */
  request_sent: number;
  /** Response headers arrived (`after_provider_response`, or the socket read with the tokbench provider). */
  response_headers: number | null;
  /** First token-bearing arrival (text, thinking or tool-call delta). */
  first_token: number | null;
  /** Last token-bearing arrival. */
  last_token: number | null;
  /** The stream ended (`message_end`, or the read that carried `[DONE]` with the tokbench provider). */
  end: number;
}

/** Tokens per phase of the call. Null when unknown. */
export interface PhaseTokens {
  /** Prompt tokens the server computed: prompt tokens minus those served from its prefix cache. */
  prefill: number | null;
  /** Prompt tokens served from the server's prefix cache. */
  cached: number | null;
  /** Output tokens in the first token-bearing arrival: they end the TTFT phase. */
  first_arrival: number;
  /** Output tokens after the first arrival: the ones the decode rate is over. */
  decode: number;
  /**
   * Output tokens by kind. Exact when every arrival carried one token; otherwise the output tokens
   * are shared over the arrivals in proportion to their text (tokbench's `allocateChunkTokens`).
   */
  by_kind: { text: number; thinking: number; tool_call: number };
}

/** llama.cpp's own `timings` for the call (tokbench provider only). */
export interface LlamaTimings {
  prompt_n: number | null;
  prompt_ms: number | null;
  predicted_n: number | null;
  predicted_ms: number | null;
  cache_n: number | null;
  /** Tokens proposed by a draft model (speculative decoding); null when it was off. */
  draft_n: number | null;
  /** Proposed tokens accepted; they are part of `predicted_n`. Null when speculation was off. */
  draft_n_accepted: number | null;
  /** prompt_n / prompt_ms, tok/s. */
  prefill_tps: number | null;
  /** (predicted_n - 1) / predicted_ms, tok/s: llama.cpp times the steps after the first token. */
  decode_tps: number | null;
}

/**
 * One LLM call of a pi session: one line of `.pi/llm-metrics.log`. Every figure follows tokbench's
 * definitions (docs/metrics.md in the tokbench repository); README.md documents each field.
 */
export interface CallLogRecord {
  schema_version: typeof LOG_SCHEMA_VERSION;
  /** pi's session id. */
  session_id: string;
  /** `<session_id>:<call_index>`: unique across sessions. */
  call_id: string;
  /** Position of the call in the session, from 0. */
  call_index: number;
  /** Wall-clock time of the call's start, ISO 8601. */
  started_at: string;
  /**
   * The same as epoch milliseconds with microsecond resolution (`performance.timeOrigin` plus the
   * monotonic clock), to line the call up with other processes' clocks, e.g. a server's log.
   */
  started_at_ms: number;
  /**
   * The call's start on the machine's monotonic clock (CLOCK_MONOTONIC as `process.hrtime` gives
   * it), ms: one clock for every process of the machine, so a call lines up exactly with a local
   * server's or a test's timestamps (the wall clock can step; each process's epoch origin is read
   * at its start with some error).
   */
  started_at_mono_ms: number;
  /** pi provider and model id; `api` is pi's API type (e.g. `openai-completions`). */
  provider: string | null;
  model: string | null;
  api: string | null;
  /** Where the timestamps come from: pi's stream events (`pi-events`) or tokbench's socket reads (`socket`). */
  clock: "pi-events" | "socket";
  /** HTTP status of the response; null when none was seen. */
  http_status: number | null;
  /** pi's stop reason: `stop`, `length`, `toolUse`, `error`, `aborted`; `unfinished` when the call never ended. */
  stop_reason: string;
  /** `max_tokens` (or its equivalent) in the request; null when none was set. */
  max_tokens: number | null;
  ttft_ms: number | null;
  /** Uncached prompt tokens / TTFT. */
  prefill_tps: number | null;
  /** Output tokens after the first arrival / (last arrival − first arrival). */
  decode_tps: number | null;
  /** `client` (measured here) or `server` (llama.cpp's own, when the client figure is unknowable). */
  decode_tps_source: "client" | "server" | null;
  /** Last arrival − first arrival. */
  decode_ms: number | null;
  /** decode_ms / decode tokens. */
  tpot_ms: number | null;
  e2e_ms: number;
  /** Prompt tokens the server computed (not cached). */
  input_tokens: number | null;
  /** Prompt tokens served from the server's prefix cache. */
  cached_tokens: number | null;
  output_tokens: number;
  token_source: TokenSource;
  /** Token-bearing arrivals, and how many distinct reads (event-loop turns) they came in. */
  arrivals: number;
  arrival_reads: number;
  flags: TrustFlag[];
  raw_timestamps: RawTimestamps;
  phase_tokens: PhaseTokens;
  server_timings: LlamaTimings | null;
  error: RequestError | null;
}
