import { HttpEndpoint } from "../../http/HttpEndpoint.js";
import { parseHttpUrl } from "../../http/parseHttpUrl.js";
import { SseParser } from "../../http/SseParser.js";
import { StreamObserver } from "../../http/StreamObserver.js";
import { bodyComplete } from "../../http/streamHttp.js";
import { Utf8Accumulator } from "../../http/Utf8Accumulator.js";
import { isTokenCount, plausibleOutputUsage } from "../../metrics/serverReportChecks.js";
import type { RequestObservation } from "../../records/RequestObservation.js";
import { redactUrl, secretValues } from "../../secrets/redact.js";
import type { SendOptions, Target, WorkloadRequest } from "../Target.js";
import { readOpenAiChunk } from "./readOpenAiChunk.js";
import type { TargetOptions } from "./TargetOptions.js";

/** Calls {@link OpenAiTarget.sendBody} makes while the stream comes in. */
export interface BodyStreamHooks {
  /** When the response headers arrived, with the status and the lower-cased `content-type`. Defaults to none. */
  onResponse?(status: number, contentType: string | null, atMs: number): void;
  /**
   * Every JSON chunk of the stream once tokbench has recorded it, with the arrival time of the
   * socket read that completed it; synchronous, so keep it short. Defaults to none.
   */
  onChunk?(value: unknown, atMs: number): void;
}

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
  private readonly http: HttpEndpoint;
  private readonly endpoint: URL;
  private readonly where: string;
  /** The endpoint's secrets and the credential values of the extra body, kept out of every message. */
  private readonly secrets: readonly string[];
  private readonly tokenizeUrl: URL;
  private readonly modelsUrl: URL;
  private tokenizer: Promise<boolean> | null = null;
  /** What to tell the user when the endpoint answers 404 and the base URL looks wrong; null when it looks right. */
  private readonly notFoundHint: string | null;

  /** Throws `URL_INVALID` when `options.baseUrl` (or `options.tokenizeUrl`) is not an http(s) URL. */
  constructor(options: TargetOptions) {
    this.options = options;
    const api = options.api ?? "chat";
    this.kind = api === "chat" ? "openai-chat" : "openai-completions";
    this.http = new HttpEndpoint({
      baseUrl: options.baseUrl,
      accept: "text/event-stream",
      apiKey: options.apiKey,
      headers: options.headers,
      timeoutMs: options.timeoutMs,
    });
    const basePath = this.http.base.pathname.replace(/\/+$/, "");
    this.endpoint = this.http.url(`${basePath}/${api === "chat" ? "chat/completions" : "completions"}`);
    this.where = `POST ${redactUrl(this.endpoint)}`;
    this.secrets = [...this.http.secrets, ...secretValues(this.options.extraBody ?? {})];
    this.modelsUrl = this.http.url(`${basePath}/models`);
    this.notFoundHint = baseUrlHint(this.http.base);
    this.tokenizeUrl =
      options.tokenizeUrl === undefined
        ? this.http.url(`${basePath.replace(/\/v1$/, "")}/tokenize`)
        : parseHttpUrl(options.tokenizeUrl, "the tokenize URL");
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
    return this.sendBody(this.buildBody(request), options, request.prompt_tokens);
  }

  /**
   * Streams one request with `body` sent as it is (it should ask for `stream: true`) and observes
   * it exactly as {@link send} does: the way for a client that builds its own requests (the pi
   * extension's provider) to be timed by tokbench's HTTP client. Never rejects; failures are in the
   * observation.
   *
   * @param promptTokensClient The client's count of the prompt tokens, when it has one. Defaults to null.
   */
  async sendBody(
    body: Readonly<Record<string, unknown>>,
    options: SendOptions & BodyStreamHooks,
    promptTokensClient: number | null = null,
  ): Promise<RequestObservation> {
    const stream = new StreamObserver(this.where, this.secrets);
    let finished = false;
    // Generated text, kept only to count its tokens when the server reports no usage; appended as
    // bytes, because `text += piece` would keep one string object per chunk alive until the end.
    const text = new Utf8Accumulator();
    let jsonBody: Buffer[] | null = null;

    const handle = (data: string): void => {
      if (!stream.open) return;
      if (data === "[DONE]") {
        stream.end();
        parser.stop();
        return;
      }
      const value = stream.parseJson(data);
      if (value === undefined) return;
      const info = readOpenAiChunk(value);
      if (info.error !== null) {
        stream.serverError(info.error);
        return;
      }
      if (info.usage !== null) stream.usage = info.usage;
      if (info.timings !== null) stream.serverTimings = info.timings;
      if (info.finished) finished = true;
      stream.generated(info.text.length, info.tokens);
      if (info.text.length > 0) {
        text.append(info.text);
        stream.stopTokens.push(info.text);
      }
      options.onChunk?.(value, stream.lastReadAt);
    };
    const parser = new SseParser({ onEvent: (event) => handle(event.data) });

    const result = await this.http.stream({
      url: this.endpoint,
      body: JSON.stringify(body),
      signal: options.signal,
      onResponse: (status, contentType, atMs) => {
        stream.expect(status, contentType, "text/event-stream");
        // A server that ignored `stream: true` answers with one JSON document: one buffered chunk.
        if (contentType?.startsWith("application/json")) jsonBody = [];
        options.onResponse?.(status, contentType, atMs);
      },
      onBody: (chunk, atMs, index) => stream.feed(jsonBody ?? parser, chunk, atMs, index),
    });
    if (jsonBody !== null && bodyComplete(result)) {
      handle(Buffer.concat(jsonBody).toString("utf8"));
      // A JSON answer is a completion when it carried text or a finish_reason; `{}` is not one.
      finished = finished || (stream.error === null && stream.chunks > 0);
    } else if (bodyComplete(result)) {
      parser.end();
    }
    stream.settle(result, "[DONE] or a finish_reason", finished);
    if (stream.error?.status === 404 && this.notFoundHint !== null) {
      stream.error = { ...stream.error, message: `${stream.error.message} (${this.notFoundHint})` };
    }

    const { usage, serverTimings } = stream;
    if (
      usage?.cached_prompt_tokens === null &&
      serverTimings !== null &&
      serverTimings.cached_tokens !== null
    ) {
      // llama.cpp reports the reused prompt tokens only in its timings.
      stream.usage = { ...usage, cached_prompt_tokens: serverTimings.cached_tokens };
    }
    const observation = stream.observation(result, {
      planned_at_ms: options.planned_at_ms,
      prompt_tokens_client: promptTokensClient,
      comments: parser.comments,
      output_tokens_tokenizer: null,
    });
    // Without a count from the server that can be true, the text's own count is the next best.
    if (
      observation.chunks.length > 0 &&
      (this.options.tokenizeOutput ?? true) &&
      !plausibleOutputUsage(observation, requestedMaxTokens(body))
    ) {
      observation.output_tokens_tokenizer = await this.countTokensQuietly(text.toString());
    }
    return observation;
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
   * Throws `TARGET_UNREACHABLE` when `GET {baseUrl}/models` gets no answer, `TARGET_AUTH_FAILED` on
   * a 401/403 (a wrong key would fail every request).
   */
  async assertReachable(): Promise<void> {
    await this.http.assertReachable(this.modelsUrl);
  }

  async close(): Promise<void> {
    this.http.close();
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
    const result = await this.http.stream({
      url: this.tokenizeUrl,
      accept: "application/json",
      body,
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
    if (typeof record.count === "number") return isTokenCount(record.count) ? record.count : null;
    if (Array.isArray(record.tokens)) return record.tokens.length;
    return null;
  }
}

/**
 * A hint for a 404 when the base URL is not in the usual form: it ends in an endpoint
 * (`/chat/completions`, `/completions`), to which tokbench appends the endpoint again, or it lacks
 * the `/v1` that OpenAI-compatible servers serve under. Null when it ends in `/v1`.
 */
function baseUrlHint(base: URL): string | null {
  const path = base.pathname.replace(/\/+$/, "");
  const fixed = new URL(base.href);
  const endpoint = /\/(chat\/completions|completions)$/.exec(path);
  if (endpoint !== null) {
    fixed.pathname = path.slice(0, -endpoint[0].length) || "/";
    return `the base URL ends in ${endpoint[0]}: give the API's base URL, e.g. ${redactUrl(fixed)}; tokbench adds ${endpoint[0]} itself`;
  }
  if (/\/v1$/.test(path)) return null;
  fixed.pathname = `${path}/v1`;
  return `the base URL does not end in /v1: OpenAI-compatible servers serve under it, try ${redactUrl(fixed)}`;
}

/** The output limit a request body asks for (`max_tokens`, or `max_completion_tokens`); null when none. */
function requestedMaxTokens(body: Readonly<Record<string, unknown>>): number | null {
  const value = body.max_tokens ?? body.max_completion_tokens;
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : null;
}
