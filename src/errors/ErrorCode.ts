/**
 * Stable error codes. Codes are part of the public interface: never rename one, only add.
 *
 * Request-level codes (recorded per request, a run goes on) start with `REQUEST_`;
 * the rest abort the operation that raised them.
 */
export const ERROR_CODES = [
  // Bad input from the user: flags, files, URLs.
  "INVALID_ARGUMENT",
  "FILE_NOT_FOUND",
  "FILE_UNREADABLE",
  "FILE_UNWRITABLE",
  "FILE_EXISTS",
  "PROMPT_FILE_INVALID",
  "URL_INVALID",
  "TARGET_UNREACHABLE",
  // The server refused the credentials (HTTP 401/403): every request would fail the same way.
  "TARGET_AUTH_FAILED",
  // Per-request failures: recorded with the request, statistics use the successful ones.
  "REQUEST_HTTP_ERROR",
  "REQUEST_TIMEOUT",
  "REQUEST_STREAM_CUT",
  "REQUEST_MALFORMED_SSE",
  "REQUEST_MALFORMED_JSON",
  "REQUEST_CONNECTION_FAILED",
  "REQUEST_SERVER_ERROR_EVENT",
  "REQUEST_ENGINE_FAILED",
  // HTTP 429 or 503: the server asked to slow down or is overloaded (its Retry-After is in the message).
  "REQUEST_RATE_LIMITED",
  // A successful answer that is not a stream (e.g. text/html, or JSON without a completion).
  "REQUEST_NOT_A_STREAM",
  // Run-level aborts.
  "RUN_MAX_ERRORS",
  "RUN_INTERRUPTED",
  // Model files.
  "GGUF_NOT_GGUF",
  "GGUF_TRUNCATED",
  "GGUF_CORRUPT",
  "GGUF_UNSUPPORTED",
  "SYNTH_INVALID_SHAPE",
  "SYNTH_TOO_LARGE",
  // Embedded engine.
  "ENGINE_LOAD_FAILED",
  "ENGINE_OUT_OF_MEMORY",
  "ENGINE_UNAVAILABLE",
  "ENGINE_DECODE_FAILED",
  "ENGINE_BUILD_FAILED",
  // Graph observer (native/graph-observer/): missing, built for another llama.cpp, or not in the call path.
  "OBSERVER_UNAVAILABLE",
  "OBSERVER_MISMATCH",
  "OBSERVER_NOT_ATTACHED",
  // Storage.
  "DB_OPEN_FAILED",
  "DB_WRITE_FAILED",
  // A --db location tokbench cannot use (a postgres:// or other URL).
  "DB_UNSUPPORTED",
  // Another process holds the database's write lock (SQLITE_BUSY); writing again later may succeed.
  "DB_LOCKED",
  // Reading the history back failed (a PostgreSQL connection lost or refused mid-read).
  "DB_READ_FAILED",
  "RUN_NOT_FOUND",
  // Telemetry: the --prometheus-port cannot be bound (in use, not allowed, not an address here).
  "METRICS_PORT_UNAVAILABLE",
  // History: reading runs back, comparing, reporting.
  "RUN_AMBIGUOUS",
  "BROWSER_UNAVAILABLE",
  // regress --rerun: the baseline's configuration cannot be measured again (a model file gone, a
  // secret tokbench did not keep, an unreachable server), or its re-run failed.
  "BASELINE_NOT_RERUNNABLE",
  // Launching servers and sweeping.
  "SERVER_LAUNCH_FAILED",
  "SWEEP_NOT_FOUND",
  "SWEEP_FILE_INVALID",
  // Tuning.
  "REPLAY_INVALID",
  "TUNE_NOT_FOUND",
  // Anything that escaped classification: a bug in tokbench.
  "INTERNAL",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
