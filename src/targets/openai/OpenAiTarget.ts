import type http from "node:http";
import { isSecretHeader } from "../../errors/redactSecrets.js";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { assertHttpReachable } from "../../http/assertHttpReachable.js";
import { displayUrl, httpRequestError, safeExcerpt } from "../../http/httpRequestError.js";
import { SseParser } from "../../http/SseParser.js";
import { createStreamingAgent, streamHttp } from "../../http/streamHttp.js";
import type {
  ObservedChunk,
  RequestError,
  RequestObservation,
  ServerReportedTimings,
  ServerUsage,
} from "../../metrics/RequestObservation.js";
import type { SendOptions, Target, WorkloadRequest } from "../Target.js";
import { readOpenAiChunk } from "./readOpenAiChunk.js";
import { DEFAULT_TIMEOUT_MS, type TargetOptions } from "./TargetOptions.js";

/**
 * An OpenAI-compatible server (llama.cpp's llama-server, vLLM, SGLang, LM Studio, ...) driven
 * through streaming `/v1/chat/completions` or `/v1/completions`.
 *
 * Every socket read is timed once; a token-bearing chunk's `at_ms` is the arrival of the read that
 * completed it. Failures (HTTP status >= 400, refused connection, cut stream, malformed JSON, an
 * error event, timeout) come back as data in the observation, never as a rejection.
 */
export class OpenAiTarget implements Target {
  readonly kind: string;
  private readonly options: TargetOptions;
  private readonly endpoint: URL;
  private readonly where: string;
  private readonly tokenizeUrl: URL;
  private readonly modelsUrl: URL;
  private readonly agent: http.Agent;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[];
  private tokenizer: Promise<boolean> | null = null;

  /** Throws `URL_INVALID` when `options.baseUrl` is not an http(s) URL. */
  constructor(options: TargetOptions) {
    this.options = options;
    const api = options.api ?? "chat";
    this.kind = api === "chat" ? "openai-chat" : "openai-completions";
    const base = parseBaseUrl(options.baseUrl);
    const basePath = base.pathname.replace(/\/+$/, "");
    this.endpoint = new URL(base.href);
    this.endpoint.pathname = `${basePath}/${api === "chat" ? "chat/completions" : "completions"}`;
    this.where = `POST ${displayUrl(this.endpoint)}`;
    this.modelsUrl = new URL(base.href);
    this.modelsUrl.pathname = `${basePath}/models`;
    if (options.tokenizeUrl !== undefined) {
      this.tokenizeUrl = parseBaseUrl(options.tokenizeUrl);
    } else {
      this.tokenizeUrl = new URL(base.href);
      this.tokenizeUrl.pathname = `${basePath.replace(/\/v1$/, "")}/tokenize`;
    }
    this.agent = createStreamingAgent(base.protocol);
    this.headers = {
      "content-type": "application/json",
      accept: "text/event-stream",
      "user-agent": "tokbench",
    };
    this.secrets = [];
    for (const [name, value] of options.headers ?? []) {
      const key = name.toLowerCase();
      this.headers[key] =
        key in this.headers && !isDefaultHeader(key) ? `${this.headers[key]}, ${value}` : value;
      if (isSecretHeader(name)) this.secrets.push(value);
    }
    if (options.apiKey !== undefined && options.apiKey !== null && options.apiKey !== "") {
      this.headers.authorization = `Bearer ${options.apiKey}`;
      this.secrets.push(options.apiKey, this.headers.authorization);
    }
    if (base.password !== "") this.secrets.push(decodeURIComponent(base.password));
  }

  /** The request body this target sends for `request` (exposed for tests and `--dry-run` style output). */
  buildBody(request: WorkloadRequest): Record<string, unknown> {
    const body: Record<string, unknown> = { model: this.options.model };
    if ((this.options.api ?? "chat") === "chat") body.messages = request.messages;
    else body.prompt = request.prompt;
    body.max_tokens = request.max_tokens;
    body.stream = true;
    if (this.options.includeUsage ?? true) body.stream_options = { include_usage: true };
    if (request.force_output_length && (this.options.forceOutputFields ?? true)) {
      body.ignore_eos = true;
      body.min_tokens = request.max_tokens;
    }
    return Object.assign(body, this.options.extraBody ?? {});
  }

  async send(request: WorkloadRequest, options: SendOptions): Promise<RequestObservation> {
    const chunks: ObservedChunk[] = [];
    let emptyChunks = 0;
    let usage: ServerUsage | null = null;
    let timings: ServerReportedTimings | null = null;
    let error: RequestError | null = null;
    let finished = false;
    let doneAt: number | null = null;
    let text = "";
    let readAt = 0;
    let readIndex = 0;
    let jsonBody: Buffer[] | null = null;

    const handle = (data: string): void => {
      if (doneAt !== null || error !== null) return;
      if (data === "[DONE]") {
        doneAt = readAt;
        parser.stop();
        return;
      }
      let value: unknown;
      try {
        value = JSON.parse(data);
      } catch {
        error = {
          code: "REQUEST_MALFORMED_JSON",
          message: `malformed JSON in the stream from ${this.where}: ${safeExcerpt(data, this.secrets, 80)}`,
          status: null,
        };
        return;
      }
      const info = readOpenAiChunk(value);
      if (info.error !== null) {
        error = {
          code: "REQUEST_SERVER_ERROR_EVENT",
          message: `${this.where} sent an error in the stream: ${safeExcerpt(info.error, this.secrets)}`,
          status: null,
        };
        return;
      }
      if (info.usage !== null) usage = info.usage;
      if (info.timings !== null) timings = info.timings;
      if (info.finished) finished = true;
      if (info.text.length > 0 || (info.tokens !== null && info.tokens > 0)) {
        chunks.push({ at_ms: readAt, read_index: readIndex, tokens: info.tokens, chars: info.text.length });
        text += info.text;
      } else {
        emptyChunks++;
      }
    };
    const parser = new SseParser({ onEvent: (event) => handle(event.data) });

    const result = await streamHttp({
      url: this.endpoint,
      headers: this.headers,
      body: JSON.stringify(this.buildBody(request)),
      agent: this.agent,
      timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      signal: options.signal,
      onResponse: (_status, contentType) => {
        // A server that ignored `stream: true` answers with one JSON document: one buffered chunk.
        if (contentType?.startsWith("application/json")) jsonBody = [];
      },
      onBody: (chunk, atMs, index) => {
        readAt = atMs;
        readIndex = index;
        if (jsonBody !== null) {
          jsonBody.push(chunk);
          return true;
        }
        parser.push(chunk);
        return error === null;
      },
    });
    if (jsonBody !== null && result.outcome === "complete" && (result.status ?? 0) < 400) {
      handle(Buffer.concat(jsonBody).toString("utf8"));
      finished = finished || error === null;
    } else if (result.outcome === "complete" && (result.status ?? 0) < 400) {
      parser.end();
    }

    if (error === null && doneAt === null) {
      error = httpRequestError(result, this.where, this.secrets);
      if (error === null && !finished) {
        error = {
          code: "REQUEST_STREAM_CUT",
          message: `stream from ${this.where} ended before [DONE] or a finish_reason`,
          status: result.status,
        };
      }
    }
    if (usage !== null && timings !== null) {
      const u: ServerUsage = usage;
      const t: ServerReportedTimings = timings;
      if (u.cached_prompt_tokens === null && t.cached_tokens !== null) {
        usage = { ...u, cached_prompt_tokens: t.cached_tokens };
      }
    }
    let outputTokensTokenizer: number | null = null;
    const reported = usage as ServerUsage | null;
    if ((reported === null || reported.completion_tokens === null) && chunks.length > 0) {
      if (this.options.tokenizeOutput ?? true) outputTokensTokenizer = await this.countTokensQuietly(text);
    }
    return {
      planned_at_ms: options.planned_at_ms,
      sent_at_ms: result.sent_at_ms,
      headers_at_ms: result.headers_at_ms,
      end_at_ms: doneAt ?? result.end_at_ms,
      status: result.status,
      chunks,
      empty_chunks: emptyChunks,
      comments: parser.comments,
      usage,
      server_timings: timings,
      prompt_tokens_client: request.prompt_tokens,
      output_tokens_tokenizer: outputTokensTokenizer,
      error,
    };
  }

  /**
   * Counts tokens with the server's `/tokenize` endpoint (llama.cpp: `{content}` → `{tokens}`;
   * vLLM: `{prompt}` → `{count}`), without special tokens. The first call probes the endpoint;
   * when it is missing or unusable, this and every later call return null.
   */
  async countTokens(text: string): Promise<number | null> {
    if (this.tokenizer === null) {
      this.tokenizer = this.tokenize(text).then(
        (count) => count !== null,
        () => false,
      );
      const exists = await this.tokenizer;
      if (!exists) return null;
    } else if (!(await this.tokenizer)) {
      return null;
    }
    return this.tokenize(text);
  }

  /**
   * Throws `TARGET_UNREACHABLE` when `GET {baseUrl}/models` gets no answer, or a 401/403 (a wrong
   * key would fail every request).
   */
  async assertReachable(): Promise<void> {
    await assertHttpReachable({
      url: this.modelsUrl,
      agent: this.agent,
      headers: this.headers,
      secrets: this.secrets,
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }

  private async countTokensQuietly(text: string): Promise<number | null> {
    try {
      return await this.countTokens(text);
    } catch {
      return null;
    }
  }

  private async tokenize(text: string): Promise<number | null> {
    const parts: Buffer[] = [];
    const body = JSON.stringify({
      content: text,
      prompt: text,
      model: this.options.model,
      add_special: false,
      add_special_tokens: false,
    });
    const headers = { ...this.headers, accept: "application/json" };
    const result = await streamHttp({
      url: this.tokenizeUrl,
      headers,
      body,
      agent: this.agent,
      timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      onBody: (chunk) => {
        parts.push(chunk);
        return true;
      },
    });
    if (result.outcome !== "complete" || result.status !== 200) return null;
    let value: unknown;
    try {
      value = JSON.parse(Buffer.concat(parts).toString("utf8"));
    } catch {
      return null;
    }
    if (typeof value !== "object" || value === null) return null;
    const record = value as { count?: unknown; tokens?: unknown };
    if (typeof record.count === "number") return record.count;
    if (Array.isArray(record.tokens)) return record.tokens.length;
    return null;
  }
}

function parseBaseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new TokbenchError("URL_INVALID", "the target URL is not a valid URL", { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TokbenchError(
      "URL_INVALID",
      `the URL must start with http:// or https://, got ${url.protocol}`,
    );
  }
  return url;
}

function isDefaultHeader(name: string): boolean {
  return name === "content-type" || name === "accept" || name === "user-agent";
}
