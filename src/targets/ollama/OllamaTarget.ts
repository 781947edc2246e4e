import type http from "node:http";
import { isSecretHeader } from "../../errors/redactSecrets.js";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { assertHttpReachable } from "../../http/assertHttpReachable.js";
import { displayUrl, httpRequestError, safeExcerpt } from "../../http/httpRequestError.js";
import { NdjsonParser } from "../../http/NdjsonParser.js";
import { createStreamingAgent, streamHttp } from "../../http/streamHttp.js";
import type {
  ObservedChunk,
  RequestError,
  RequestObservation,
  ServerReportedTimings,
  ServerUsage,
} from "../../metrics/RequestObservation.js";
import { DEFAULT_TIMEOUT_MS } from "../openai/TargetOptions.js";
import type { SendOptions, Target, WorkloadRequest } from "../Target.js";

/** Options of the {@link OllamaTarget}. */
export interface OllamaTargetOptions {
  /** Ollama's address, e.g. `http://127.0.0.1:11434`; a trailing `/v1` or `/api` is dropped. Required. */
  baseUrl: string;
  /** Model name, e.g. `llama3.2:1b`. Required. */
  model: string;
  /** `POST /api/chat` (`chat`) or `POST /api/generate` (`generate`). Defaults to `"chat"`. */
  api?: "chat" | "generate";
  /** Sent as `Authorization: Bearer <key>` (for Ollama behind an authenticating proxy). Defaults to none. */
  apiKey?: string | null;
  /** Extra request headers as `[name, value]` pairs. Defaults to none. */
  headers?: readonly (readonly [string, string])[];
  /** Limit per request, from send to the end of the stream, in milliseconds; 0 disables it. Defaults to 600000. */
  timeoutMs?: number;
  /** Merged into the request's `options` object (e.g. `num_ctx`), after `num_predict`. Defaults to `{}`. */
  modelOptions?: Readonly<Record<string, unknown>>;
  /** Fields merged into every request body last (e.g. `keep_alive`). Defaults to `{}`. */
  extraBody?: Readonly<Record<string, unknown>>;
}

/**
 * Ollama through its native streaming API (`/api/chat`, `/api/generate`): newline-delimited JSON
 * objects, the last one (`done: true`) carrying Ollama's own prompt-eval and eval counts and
 * nanosecond durations, which become `usage` and `server_timings` (source `ollama`).
 *
 * Ollama has no way to force the output length (no `ignore_eos`), so `force_output_length` only
 * sets `num_predict`; the metrics flag outputs that stop short. It has no tokenize endpoint, so
 * `countTokens` returns null.
 */
export class OllamaTarget implements Target {
  readonly kind = "ollama";
  private readonly options: OllamaTargetOptions;
  private readonly endpoint: URL;
  private readonly where: string;
  private readonly versionUrl: URL;
  private readonly agent: http.Agent;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[] = [];

  /** Throws `URL_INVALID` when `options.baseUrl` is not an http(s) URL. */
  constructor(options: OllamaTargetOptions) {
    this.options = options;
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch (cause) {
      throw new TokbenchError("URL_INVALID", "the Ollama URL is not a valid URL", { cause });
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") {
      throw new TokbenchError(
        "URL_INVALID",
        `the Ollama URL must start with http:// or https://, got ${base.protocol}`,
      );
    }
    const root = base.pathname.replace(/\/+$/, "").replace(/\/(v1|api)$/, "");
    this.endpoint = new URL(base.href);
    this.endpoint.pathname = `${root}/api/${options.api ?? "chat"}`;
    this.where = `POST ${displayUrl(this.endpoint)}`;
    this.versionUrl = new URL(base.href);
    this.versionUrl.pathname = `${root}/api/version`;
    this.agent = createStreamingAgent(base.protocol);
    this.headers = {
      "content-type": "application/json",
      accept: "application/x-ndjson",
      "user-agent": "tokbench",
    };
    for (const [name, value] of options.headers ?? []) {
      this.headers[name.toLowerCase()] = value;
      if (isSecretHeader(name)) this.secrets.push(value);
    }
    if (options.apiKey !== undefined && options.apiKey !== null && options.apiKey !== "") {
      this.headers.authorization = `Bearer ${options.apiKey}`;
      this.secrets.push(options.apiKey, this.headers.authorization);
    }
    if (base.password !== "") this.secrets.push(decodeURIComponent(base.password));
  }

  /** The request body this target sends for `request`. */
  buildBody(request: WorkloadRequest): Record<string, unknown> {
    const body: Record<string, unknown> = { model: this.options.model };
    if ((this.options.api ?? "chat") === "chat") body.messages = request.messages;
    else body.prompt = request.prompt;
    body.stream = true;
    body.options = { num_predict: request.max_tokens, ...(this.options.modelOptions ?? {}) };
    return Object.assign(body, this.options.extraBody ?? {});
  }

  async send(request: WorkloadRequest, options: SendOptions): Promise<RequestObservation> {
    const chunks: ObservedChunk[] = [];
    let emptyChunks = 0;
    let usage: ServerUsage | null = null;
    let timings: ServerReportedTimings | null = null;
    let error: RequestError | null = null;
    let doneAt: number | null = null;
    let readAt = 0;
    let readIndex = 0;

    const parser = new NdjsonParser((line) => {
      if (doneAt !== null || error !== null) return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        error = {
          code: "REQUEST_MALFORMED_JSON",
          message: `malformed JSON line from ${this.where}: ${safeExcerpt(line, this.secrets, 80)}`,
          status: null,
        };
        return;
      }
      if (!isObject(value)) {
        emptyChunks++;
        return;
      }
      if (value.error !== undefined && value.error !== null) {
        const text = typeof value.error === "string" ? value.error : JSON.stringify(value.error);
        error = {
          code: "REQUEST_SERVER_ERROR_EVENT",
          message: `${this.where} sent an error in the stream: ${safeExcerpt(text, this.secrets)}`,
          status: null,
        };
        return;
      }
      const chars = generatedChars(value);
      if (chars > 0) chunks.push({ at_ms: readAt, read_index: readIndex, tokens: null, chars });
      else emptyChunks++;
      if (value.done === true) {
        doneAt = readAt;
        const promptTokens = num(value.prompt_eval_count);
        const outputTokens = num(value.eval_count);
        usage = { prompt_tokens: promptTokens, completion_tokens: outputTokens, cached_prompt_tokens: null };
        timings = {
          source: "ollama",
          prompt_tokens: promptTokens,
          prompt_ms: nsToMs(value.prompt_eval_duration),
          output_tokens: outputTokens,
          decode_ms: nsToMs(value.eval_duration),
          cached_tokens: null,
          load_ms: nsToMs(value.load_duration),
        };
        parser.stop();
      }
    });

    const result = await streamHttp({
      url: this.endpoint,
      headers: this.headers,
      body: JSON.stringify(this.buildBody(request)),
      agent: this.agent,
      timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      signal: options.signal,
      onBody: (chunk, atMs, index) => {
        readAt = atMs;
        readIndex = index;
        parser.push(chunk);
        return error === null;
      },
    });
    if (result.outcome === "complete" && (result.status ?? 0) < 400) parser.end();
    if (error === null && doneAt === null) {
      error = httpRequestError(result, this.where, this.secrets) ?? {
        code: "REQUEST_STREAM_CUT",
        message: `stream from ${this.where} ended before its "done" object`,
        status: result.status,
      };
    }
    return {
      planned_at_ms: options.planned_at_ms,
      sent_at_ms: result.sent_at_ms,
      headers_at_ms: result.headers_at_ms,
      end_at_ms: doneAt ?? result.end_at_ms,
      status: result.status,
      chunks,
      empty_chunks: emptyChunks,
      comments: 0,
      usage,
      server_timings: timings,
      prompt_tokens_client: request.prompt_tokens,
      output_tokens_tokenizer: null,
      error,
    };
  }

  /** Ollama has no tokenize endpoint. */
  async countTokens(_text: string): Promise<number | null> {
    return null;
  }

  /** Throws `TARGET_UNREACHABLE` when `GET /api/version` gets no answer, or a 401/403. */
  async assertReachable(): Promise<void> {
    await assertHttpReachable({
      url: this.versionUrl,
      agent: this.agent,
      headers: this.headers,
      secrets: this.secrets,
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** Characters of generated text in one Ollama object: content, thinking, tool calls. */
function generatedChars(value: Record<string, unknown>): number {
  let chars = 0;
  const holder = isObject(value.message) ? value.message : value;
  for (const field of ["content", "response", "thinking"]) {
    const text = holder[field];
    if (typeof text === "string") chars += text.length;
  }
  if (Array.isArray(holder.tool_calls)) {
    for (const call of holder.tool_calls) chars += JSON.stringify(call).length;
  }
  return chars;
}

function nsToMs(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value / 1e6 : null;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
