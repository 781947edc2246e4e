import { HttpEndpoint } from "../../http/HttpEndpoint.js";
import { NdjsonParser } from "../../http/NdjsonParser.js";
import { StreamObserver } from "../../http/StreamObserver.js";
import { bodyComplete } from "../../http/streamHttp.js";
import type { StopTokenScanner } from "../../metrics/StopTokenScanner.js";
import type { RequestObservation } from "../../records/RequestObservation.js";
import { redactUrl, secretValues } from "../../secrets/redact.js";
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
  private readonly http: HttpEndpoint;
  private readonly endpoint: URL;
  private readonly where: string;
  /** The endpoint's secrets and the credential values of the extra body, kept out of every message. */
  private readonly secrets: readonly string[];
  private readonly versionUrl: URL;

  /** Throws `URL_INVALID` when `options.baseUrl` is not an http(s) URL. */
  constructor(options: OllamaTargetOptions) {
    this.options = options;
    this.http = new HttpEndpoint({
      baseUrl: options.baseUrl,
      urlName: "the Ollama URL",
      accept: "application/x-ndjson",
      apiKey: options.apiKey,
      headers: options.headers,
      timeoutMs: options.timeoutMs,
    });
    const root = this.http.base.pathname.replace(/\/+$/, "").replace(/\/(v1|api)$/, "");
    this.endpoint = this.http.url(`${root}/api/${options.api ?? "chat"}`);
    this.where = `POST ${redactUrl(this.endpoint)}`;
    this.secrets = [
      ...this.http.secrets,
      ...secretValues([this.options.extraBody ?? {}, this.options.modelOptions ?? {}]),
    ];
    this.versionUrl = this.http.url(`${root}/api/version`);
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
    const stream = new StreamObserver(this.where, this.secrets);

    const parser = new NdjsonParser((line) => {
      if (!stream.open) return;
      const value = stream.parseJson(line);
      if (value === undefined) return;
      if (!isObject(value)) {
        stream.empty();
        return;
      }
      if (value.error !== undefined && value.error !== null) {
        stream.serverError(typeof value.error === "string" ? value.error : JSON.stringify(value.error));
        return;
      }
      stream.generated(generatedChars(value, stream.stopTokens), null);
      if (value.done === true) {
        stream.end();
        const promptTokens = reported(value.prompt_eval_count);
        const outputTokens = reported(value.eval_count);
        stream.usage = {
          prompt_tokens: promptTokens,
          completion_tokens: outputTokens,
          cached_prompt_tokens: null,
        };
        stream.serverTimings = {
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

    const result = await this.http.stream({
      url: this.endpoint,
      body: JSON.stringify(this.buildBody(request)),
      signal: options.signal,
      onResponse: (status, contentType) => stream.expect(status, contentType, "application/x-ndjson"),
      onBody: (chunk, atMs, index) => stream.feed(parser, chunk, atMs, index),
    });
    if (bodyComplete(result)) parser.end();
    stream.settle(result, 'its "done" object');
    return stream.observation(result, {
      planned_at_ms: options.planned_at_ms,
      prompt_tokens_client: request.prompt_tokens,
      comments: 0,
      output_tokens_tokenizer: null,
    });
  }

  /** Ollama has no tokenize endpoint. */
  async countTokens(_text: string): Promise<number | null> {
    return null;
  }

  /** Throws `TARGET_UNREACHABLE` when `GET /api/version` gets no answer, `TARGET_AUTH_FAILED` on a 401/403. */
  async assertReachable(): Promise<void> {
    await this.http.assertReachable(this.versionUrl);
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

/** Characters of generated text in one Ollama object (content, thinking, tool calls); the text goes to `scanner`. */
function generatedChars(value: Record<string, unknown>, scanner: StopTokenScanner): number {
  let chars = 0;
  const holder = isObject(value.message) ? value.message : value;
  for (const field of ["content", "response", "thinking"]) {
    const text = holder[field];
    if (typeof text === "string") {
      chars += text.length;
      scanner.push(text);
    }
  }
  if (Array.isArray(holder.tool_calls)) {
    for (const call of holder.tool_calls) chars += JSON.stringify(call).length;
  }
  return chars;
}

/** A reported duration in ns, in ms; as `reported` for what is not a number. */
function nsToMs(value: unknown): number | null {
  const ns = reported(value);
  return ns === null ? null : ns / 1e6;
}

/**
 * A number Ollama reported, as it reported it (the metrics judge it, see serverReportChecks); NaN
 * when the field holds something that is not a number; null when it is absent or null.
 */
function reported(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  return typeof value === "number" ? value : Number.NaN;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
