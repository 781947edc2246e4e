/** Options of the HTTP targets ({@link OpenAiTarget}; the Ollama target takes the subset that applies). */
export interface TargetOptions {
  /**
   * Base URL of the OpenAI-compatible API, normally ending in `/v1`, e.g. `http://127.0.0.1:8080/v1`.
   * Endpoints are appended to it (`/chat/completions`). Required.
   */
  baseUrl: string;
  /** Model name sent in every request. Required. */
  model: string;
  /** Which endpoint to drive: `/chat/completions` (`chat`) or `/completions` (`completions`). Defaults to `"chat"`. */
  api?: "chat" | "completions";
  /** Sent as `Authorization: Bearer <key>`; never stored, printed or put in an error. Defaults to none. */
  apiKey?: string | null;
  /**
   * Extra request headers as `[name, value]` pairs, in order (a name may repeat, see
   * `parseHeaderFlag`). Values of credential headers are redacted from every message. Defaults to none.
   */
  headers?: readonly (readonly [string, string])[];
  /** Limit per request, from send to the end of the stream, in milliseconds; 0 disables it. Defaults to 600000. */
  timeoutMs?: number;
  /** Ask for the final usage chunk (`stream_options.include_usage`); strict servers may reject it. Defaults to true. */
  includeUsage?: boolean;
  /**
   * When a request asks for a forced output length, send `ignore_eos: true` and
   * `min_tokens: max_tokens` (llama.cpp, vLLM). Turn off for servers that reject unknown fields.
   * Defaults to true.
   */
  forceOutputFields?: boolean;
  /** Fields merged into every request body last, so they can override anything (e.g. `temperature`). Defaults to `{}`. */
  extraBody?: Readonly<Record<string, unknown>>;
  /**
   * When the server reports no `usage.completion_tokens`, count the generated text with the
   * server's `/tokenize` endpoint (after the stream ended, so timing is unaffected). Defaults to true.
   */
  tokenizeOutput?: boolean;
  /**
   * URL of the tokenizer endpoint. llama.cpp and vLLM serve `POST /tokenize` at the server root.
   * Defaults to `baseUrl` without its trailing `/v1`, plus `/tokenize`.
   */
  tokenizeUrl?: string;
}
