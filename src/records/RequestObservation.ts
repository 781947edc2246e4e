/**
 * What a target saw while serving one request, as raw monotonic timestamps in milliseconds on the
 * run clock (`performance.now()`). Targets (HTTP, Ollama, embedded engine) produce this; the
 * metric definitions in `computeRequestMetrics` turn it into a {@link RequestRecord}. Nothing here
 * is derived: derived figures live in one place only.
 */
export interface RequestObservation {
  /** When the scheduler meant to send the request. */
  planned_at_ms: number;
  /** When the request was handed to the connection (HTTP) or to the engine (embedded). */
  sent_at_ms: number;
  /** When the response headers arrived; null for the embedded engine or when none came. */
  headers_at_ms: number | null;
  /** When the stream ended: the `[DONE]` event, the end of the body, the error, or the last engine step. */
  end_at_ms: number;
  /** HTTP status; null for the embedded engine or when no response came. */
  status: number | null;
  /** Chunks that carried at least one generated token (content, reasoning or tool-call delta), in order. */
  chunks: ObservedChunk[];
  /** Chunks that carried no generated token: role-only, empty deltas, usage-only. Never timed. */
  empty_chunks: number;
  /** SSE comments and keep-alive lines seen. */
  comments: number;
  /** Token counts the server reported, if it did. */
  usage: ServerUsage | null;
  /** Timing the server reported about itself (llama.cpp `timings`, Ollama durations, engine counters). */
  server_timings: ServerReportedTimings | null;
  /** Prompt tokens as the client knows them (exact from a tokenizer, else approximate); null if unknown. */
  prompt_tokens_client: number | null;
  /** Output tokens counted by a tokenizer over the generated text, when a tokenizer was available. */
  output_tokens_tokenizer: number | null;
  /** The failure, if the request failed; the chunks received before it are kept. */
  error: RequestError | null;
  /**
   * The first chat-template stop token (`<|im_end|>`, `</s>`, ...) found in the generated text,
   * when the target looked (`StopTokenScanner`); null or absent when none was found or nobody looked.
   */
  leaked_stop_token?: string | null;
}

/** One token-bearing chunk. */
export interface ObservedChunk {
  /** Arrival time: when the bytes that completed this chunk were read. */
  at_ms: number;
  /**
   * Index of the socket read (or engine step) that completed this chunk. Consecutive chunks with the
   * same index arrived together, so the gap between them says nothing about generation speed.
   */
  read_index: number;
  /** Exact tokens in the chunk when the source says (engine, logprobs); null when unknown. */
  tokens: number | null;
  /** Characters of generated text in the chunk (content + reasoning + tool-call arguments). */
  chars: number;
}

/** Token counts from the server's `usage` object (OpenAI) or its equivalent. */
export interface ServerUsage {
  prompt_tokens: number | null;
  completion_tokens: number | null;
  /** Prompt tokens served from the server's prefix cache (`prompt_tokens_details.cached_tokens`, llama.cpp `cache_n`). */
  cached_prompt_tokens: number | null;
}

/** What the server (or engine) measured about itself. Durations in milliseconds. */
export interface ServerReportedTimings {
  /** Where these came from, e.g. `llama.cpp`, `ollama`, `engine`. */
  source: string;
  prompt_tokens: number | null;
  prompt_ms: number | null;
  output_tokens: number | null;
  decode_ms: number | null;
  /**
   * Decode steps that `decode_ms` covers, when they are not `output_tokens`. llama.cpp times
   * generation from its first token (which comes out of the prompt's last batch) to its last, so
   * `predicted_ms` covers `predicted_n - 1` steps, as llama.cpp's own `predicted_per_second` says.
   * Defaults to absent: `decode_ms` covers `output_tokens` steps.
   */
  decode_steps?: number | null;
  /** Prompt tokens the server took from its cache instead of computing. */
  cached_tokens: number | null;
  /** Model load time the server reported for this request (Ollama `load_duration`). */
  load_ms: number | null;
  /**
   * Tokens a draft model proposed (speculative decoding; llama.cpp `draft_n`). Verification work,
   * not generation: only the accepted ones are output tokens. Defaults to absent (no speculation).
   */
  draft_tokens?: number | null;
  /**
   * Proposed tokens the target model accepted (llama.cpp `draft_n_accepted`). They are part of the
   * output and arrive in the same burst as the token of the verification step that accepted them.
   * Defaults to absent (no speculation).
   */
  draft_accepted_tokens?: number | null;
}

/** A request failure, recorded as data. */
export interface RequestError {
  /** Stable code, one of the `REQUEST_*` {@link ErrorCode}s. */
  code: string;
  /** One line, secrets removed. */
  message: string;
  /** HTTP status when there was one. */
  status: number | null;
}
