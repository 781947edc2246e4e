import type http from "node:http";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { TokbenchError } from "../errors/TokbenchError.js";
import { seededRandom } from "../workload/seededRandom.js";
import { EmissionScheduler, type ScheduledTask } from "./EmissionScheduler.js";
import {
  createMockHttpServer,
  isObject,
  listenOrigin,
  OpenAiChunkFormat,
  parseJsonObject,
  promptText,
  type StreamKind,
  sendJson,
} from "./mockHttp.js";
import { countMockTokens } from "./mockTokenizer.js";

/** What the mock knows about a generation request when it arrives. */
export interface MockRequestInfo {
  /** Sequential id of the generation request (0-based, in arrival order). */
  id: number;
  /** Request path, e.g. `/v1/chat/completions` or `/api/chat`. */
  path: string;
  /** The prompt as plain text (chat message contents joined with `"\n"`). */
  prompt: string;
  /** Prompt tokens by the mock tokenizer. */
  prompt_tokens: number;
  /** Tokens the mock will generate. */
  output_tokens: number;
  /** Whether the mock answers this request with HTTP 500. */
  fails: boolean;
  /** Whether the mock cuts this stream half-way. */
  cut: boolean;
  /** `performance.now()` when the request body was complete: the origin of the scripted TTFT. */
  received_at_ms: number;
}

/** Options of the {@link MockServer}. */
export interface MockServerOptions {
  /** Interface to listen on. Defaults to `"127.0.0.1"`. */
  host?: string;
  /** Port; 0 picks a free one. Defaults to 0. */
  port?: number;
  /** Model name listed by `/v1/models` (responses echo the requested model). Defaults to `"mock-model"`. */
  model?: string;
  /** Time from the complete request to the first token chunk, in milliseconds. Defaults to 20. */
  ttftMs?: number;
  /** Time per generated token after the first chunk, in milliseconds. Defaults to 10. */
  itlMs?: number;
  /**
   * Tokens per streamed chunk. Chunk `j` is sent at `ttftMs + j × tokensPerChunk × itlMs` after
   * the request arrived, so the true decode rate is `1000 / itlMs` whatever the chunking. Defaults to 1.
   */
  tokensPerChunk?: number;
  /** Tokens generated when a request names no `max_tokens` (or Ollama `num_predict`). Defaults to 16. */
  defaultMaxTokens?: number;
  /**
   * Simulated end-of-sequence: without `ignore_eos` / `min_tokens`, generation stops after this
   * many tokens (if fewer than `max_tokens`); null never stops early. Defaults to null.
   */
  stopAfter?: number | null;
  /** Hold every chunk and flush them in one write at the time the last one is due. Defaults to false. */
  buffered?: boolean;
  /** Send a role-only chunk (`delta: {role: "assistant"}`) right after the headers (chat only). Defaults to true. */
  roleChunk?: boolean;
  /** Send an empty-content delta chunk right after every token chunk (in the same write). Defaults to false. */
  emptyDeltas?: boolean;
  /** Send a `: keep-alive` comment right before every token chunk (in the same write). Defaults to false. */
  keepAlive?: boolean;
  /** The first N output tokens are `reasoning_content` (Ollama: `thinking`) instead of content. Defaults to 0. */
  reasoningTokens?: number;
  /** Send the usage chunk when the client asks for it (`stream_options.include_usage`). Defaults to true. */
  usage?: boolean;
  /** Put a llama.cpp-style `timings` object in the last chunk. Defaults to false. */
  timings?: boolean;
  /** Prompt tokens reported as served from cache (`cached_tokens`, `cache_n`). Defaults to 0. */
  cachedPromptTokens?: number;
  /** Fraction of generation requests answered with HTTP 500, drawn from `seed`. Defaults to 0. */
  errorRate?: number;
  /** Fraction of streams whose connection is destroyed half-way, drawn from `seed`. Defaults to 0. */
  cutRate?: number;
  /** Seed of the error and cut draws (one draw each per generation request, in arrival order). Defaults to 1. */
  seed?: number;
  /**
   * When set, requests must carry `Authorization: Bearer <apiKey>`; others get HTTP 401 whose body
   * echoes the Authorization header received, like careless servers do. Defaults to null.
   */
  apiKey?: string | null;
  /** How long before a deadline the scheduler polls instead of sleeping (precision vs CPU). Defaults to 1. */
  spinMs?: number;
  /** Called when a generation request arrives, before anything is sent. Defaults to none. */
  onRequest?(info: MockRequestInfo): void;
  /**
   * Called right after each token chunk was written to the socket, with the number of tokens in
   * it and the `performance.now()` time just after the write: the true send time to compare a
   * client's measured arrival against. Chunks of a buffered flush share one time. Defaults to none.
   */
  onChunkSent?(requestId: number, chunkIndex: number, tokens: number, atMs: number): void;
}

/** Counters of what the mock has done since it started. */
export interface MockServerStats {
  requests: number;
  failed: number;
  cut: number;
  chunks: number;
  active: number;
}

interface Required_ {
  ttftMs: number;
  itlMs: number;
  tokensPerChunk: number;
  defaultMaxTokens: number;
  stopAfter: number | null;
  buffered: boolean;
  roleChunk: boolean;
  emptyDeltas: boolean;
  keepAlive: boolean;
  reasoningTokens: number;
  usage: boolean;
  timings: boolean;
  cachedPromptTokens: number;
}

const CONTENT_TOKEN = " tok";
const REASONING_TOKEN = " think";

/**
 * A scripted OpenAI-compatible (and Ollama-native) streaming server for tests, demos and
 * benchmarks of tokbench itself. Serves `POST /v1/chat/completions`, `POST /v1/completions`,
 * `GET /v1/models`, `POST /tokenize` (llama.cpp style, with the {@link countMockTokens}
 * tokenizer), `POST /api/chat` and `POST /api/generate` (Ollama NDJSON with nanosecond durations).
 *
 * Every stream runs on one shared {@link EmissionScheduler} against absolute deadlines, and the
 * true send time of every chunk is reported through `onChunkSent`.
 */
export class MockServer {
  private readonly options: MockServerOptions;
  private readonly script: Required_;
  private readonly scheduler: EmissionScheduler;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<MockStream>();
  private readonly errorDraw: () => number;
  private readonly cutDraw: () => number;
  private nextId = 0;
  private origin: string | null = null;
  private readonly counters: MockServerStats = { requests: 0, failed: 0, cut: 0, chunks: 0, active: 0 };

  /** Throws `INVALID_ARGUMENT` on a negative time, a rate outside [0, 1] or a chunk size below 1. */
  constructor(options: MockServerOptions = {}) {
    this.options = options;
    this.script = {
      ttftMs: options.ttftMs ?? 20,
      itlMs: options.itlMs ?? 10,
      tokensPerChunk: options.tokensPerChunk ?? 1,
      defaultMaxTokens: options.defaultMaxTokens ?? 16,
      stopAfter: options.stopAfter ?? null,
      buffered: options.buffered ?? false,
      roleChunk: options.roleChunk ?? true,
      emptyDeltas: options.emptyDeltas ?? false,
      keepAlive: options.keepAlive ?? false,
      reasoningTokens: options.reasoningTokens ?? 0,
      usage: options.usage ?? true,
      timings: options.timings ?? false,
      cachedPromptTokens: options.cachedPromptTokens ?? 0,
    };
    const s = this.script;
    if (!(s.ttftMs >= 0) || !(s.itlMs >= 0)) invalid("ttft and itl must be >= 0 ms");
    if (!Number.isInteger(s.tokensPerChunk) || s.tokensPerChunk < 1)
      invalid("tokens per chunk must be an integer >= 1");
    for (const [name, rate] of [
      ["error rate", options.errorRate ?? 0],
      ["cut rate", options.cutRate ?? 0],
    ] as const) {
      if (!(rate >= 0 && rate <= 1)) invalid(`${name} must be between 0 and 1`);
    }
    const seed = options.seed ?? 1;
    this.errorDraw = seededRandom(seed);
    this.cutDraw = seededRandom(seed ^ 0x5bd1e995);
    this.scheduler = new EmissionScheduler(options.spinMs ?? 1);
    this.server = createMockHttpServer((req, res) => this.handle(req, res), this.sockets);
  }

  /** Starts listening; resolves to the OpenAI base URL, e.g. `http://127.0.0.1:41234/v1`. */
  async start(): Promise<string> {
    this.origin = await listenOrigin(this.server, this.options.host ?? "127.0.0.1", this.options.port ?? 0);
    return `${this.origin}/v1`;
  }

  /** `http://host:port` without a path: the Ollama base URL. Throws before `start()`. */
  get url(): string {
    if (this.origin === null) throw new TokbenchError("INTERNAL", "the mock server has not been started");
    return this.origin;
  }

  /** A snapshot of the counters. */
  get stats(): MockServerStats {
    return { ...this.counters, active: this.streams.size };
  }

  /** Stops every stream, closes every connection and stops listening. */
  async close(): Promise<void> {
    for (const stream of this.streams) stream.task.cancelled = true;
    this.streams.clear();
    this.scheduler.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const parts: Buffer[] = [];
    req.on("data", (chunk: Buffer) => parts.push(chunk));
    req.on("end", () => {
      const receivedAt = performance.now();
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      if (this.options.apiKey !== undefined && this.options.apiKey !== null) {
        const auth = req.headers.authorization ?? "";
        if (auth !== `Bearer ${this.options.apiKey}`) {
          sendJson(res, 401, {
            error: { message: `invalid api key in header "${auth}"`, type: "invalid_request_error" },
          });
          return;
        }
      }
      if (req.method === "GET" && (path === "/v1/models" || path === "/models")) {
        const model = this.options.model ?? "mock-model";
        sendJson(res, 200, {
          object: "list",
          data: [{ id: model, object: "model", owned_by: "tokbench-mock" }],
        });
        return;
      }
      if (req.method === "GET" && path === "/api/version") {
        sendJson(res, 200, { version: "0.0.0-tokbench-mock" });
        return;
      }
      if (req.method === "GET" && (path === "/health" || path === "/")) {
        sendJson(res, 200, { status: "ok" });
        return;
      }
      if (req.method !== "POST") {
        sendJson(res, 404, { error: { message: `no route for ${req.method} ${path}` } });
        return;
      }
      const body = parseJsonObject(Buffer.concat(parts));
      if (body === null) {
        sendJson(res, 400, {
          error: { message: "request body is not a JSON object", type: "invalid_request_error" },
        });
        return;
      }
      switch (path) {
        case "/tokenize": {
          const text =
            typeof body.content === "string"
              ? body.content
              : typeof body.prompt === "string"
                ? body.prompt
                : "";
          const n = countMockTokens(text);
          sendJson(res, 200, { tokens: Array.from({ length: n }, (_, i) => i + 1) });
          return;
        }
        case "/v1/chat/completions":
          this.generate(res, body, "chat", path, receivedAt);
          return;
        case "/v1/completions":
          this.generate(res, body, "completions", path, receivedAt);
          return;
        case "/api/chat":
          this.generate(res, body, "ollama-chat", path, receivedAt);
          return;
        case "/api/generate":
          this.generate(res, body, "ollama-generate", path, receivedAt);
          return;
        default:
          sendJson(res, 404, { error: { message: `no route for POST ${path}` } });
      }
    });
  }

  private generate(
    res: http.ServerResponse,
    body: Record<string, unknown>,
    kind: StreamKind,
    path: string,
    receivedAt: number,
  ): void {
    const s = this.script;
    const id = this.nextId++;
    this.counters.requests++;
    const ollama = kind === "ollama-chat" || kind === "ollama-generate";
    const prompt = promptText(body, kind);
    const promptTokens = countMockTokens(prompt);
    const ollamaOptions = isObject(body.options) ? body.options : {};
    const requested = ollama ? ollamaOptions.num_predict : (body.max_tokens ?? body.max_completion_tokens);
    const maxTokens =
      typeof requested === "number" && requested > 0 ? Math.floor(requested) : s.defaultMaxTokens;
    const forced =
      !ollama &&
      (body.ignore_eos === true || (typeof body.min_tokens === "number" && body.min_tokens >= maxTokens));
    const outputTokens = !forced && s.stopAfter !== null ? Math.min(maxTokens, s.stopAfter) : maxTokens;
    const fails = this.errorDraw() < (this.options.errorRate ?? 0);
    const cut = this.cutDraw() < (this.options.cutRate ?? 0);
    this.options.onRequest?.({
      id,
      path,
      prompt,
      prompt_tokens: promptTokens,
      output_tokens: outputTokens,
      fails,
      cut: cut && !fails,
      received_at_ms: receivedAt,
    });
    if (fails) {
      this.counters.failed++;
      sendJson(res, 500, {
        error: { message: "mock: injected server failure", type: "server_error", code: 500 },
      });
      return;
    }
    const streamOptions = isObject(body.stream_options) ? body.stream_options : {};
    const stream = new MockStream({
      server: this,
      id,
      kind,
      res,
      model: typeof body.model === "string" ? body.model : (this.options.model ?? "mock-model"),
      streaming: body.stream !== false,
      receivedAt,
      promptTokens,
      maxTokens,
      outputTokens,
      includeUsage: s.usage && streamOptions.include_usage === true,
      cut,
    });
    this.streams.add(stream);
    res.on("close", () => {
      stream.task.cancelled = true;
      this.streams.delete(stream);
    });
    stream.begin();
  }

  /** @internal */
  get scriptOptions(): Required_ {
    return this.script;
  }

  /** @internal */
  schedule(task: ScheduledTask): void {
    this.scheduler.schedule(task);
  }

  /** @internal */
  chunkSent(requestId: number, chunkIndex: number, tokens: number, atMs: number): void {
    this.counters.chunks++;
    this.options.onChunkSent?.(requestId, chunkIndex, tokens, atMs);
  }

  /** @internal */
  streamCut(): void {
    this.counters.cut++;
  }
}

interface MockStreamInit {
  server: MockServer;
  id: number;
  kind: StreamKind;
  res: http.ServerResponse;
  model: string;
  streaming: boolean;
  receivedAt: number;
  promptTokens: number;
  maxTokens: number;
  outputTokens: number;
  includeUsage: boolean;
  cut: boolean;
}

/** One response in progress. */
class MockStream {
  readonly task: ScheduledTask;
  private readonly init: MockStreamInit;
  private readonly script: Required_;
  private readonly chunkCount: number;
  /** Chunks sent before the connection is destroyed; null when the stream is not cut. */
  private readonly cutAt: number | null;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly format: OpenAiChunkFormat;
  private next = 0;

  constructor(init: MockStreamInit) {
    this.init = init;
    this.script = init.server.scriptOptions;
    const k = this.script.tokensPerChunk;
    this.chunkCount = Math.ceil(init.outputTokens / k);
    this.cutAt = init.cut ? Math.floor(this.chunkCount / 2) : null;
    this.task = { deadline: 0, cancelled: false, fire: () => this.fire() };
    const chat = init.kind === "chat";
    this.format = new OpenAiChunkFormat(
      chat,
      `${chat ? "chatcmpl" : "cmpl"}-mock-${init.id}`,
      init.model,
      this.created,
    );
  }

  begin(): void {
    const { res, kind, streaming } = this.init;
    const ollama = kind === "ollama-chat" || kind === "ollama-generate";
    if (streaming) {
      res.writeHead(200, {
        "content-type": ollama ? "application/x-ndjson" : "text/event-stream",
        "cache-control": "no-cache",
      });
      if (kind === "chat" && this.script.roleChunk) {
        res.write(
          this.sse({
            ...this.base(),
            choices: [{ index: 0, delta: { role: "assistant", content: null }, finish_reason: null }],
          }),
        );
      } else {
        res.flushHeaders();
      }
    }
    if (this.chunkCount === 0) {
      this.task.deadline = this.init.receivedAt + this.script.ttftMs;
    } else {
      this.task.deadline = this.deadlineOf(this.script.buffered || !streaming ? this.chunkCount - 1 : 0);
    }
    this.init.server.schedule(this.task);
  }

  private deadlineOf(chunk: number): number {
    const s = this.script;
    return this.init.receivedAt + s.ttftMs + chunk * s.tokensPerChunk * s.itlMs;
  }

  private fire(): void {
    const { res, server, id, streaming } = this.init;
    if (!streaming) {
      this.finishUnstreamed();
      return;
    }
    const last = this.script.buffered ? this.chunkCount : this.next + 1;
    let out = "";
    const first = this.next;
    let cutNow = false;
    for (; this.next < last && this.next < this.chunkCount; this.next++) {
      if (this.cutAt !== null && this.next === this.cutAt) {
        cutNow = true;
        break;
      }
      out += this.chunk(this.next);
    }
    if (this.chunkCount === 0 && this.cutAt === null) out += this.tail();
    else if (!cutNow && this.next === this.chunkCount) out += this.tail();
    const ending = !cutNow && this.next >= this.chunkCount;
    if (out.length > 0) {
      if (ending) res.end(out);
      else {
        res.write(out);
        // node corks chunked responses until the next tick; flush now so the send time is true.
        const socket = res.socket;
        if (socket !== null && socket.writableCorked > 0) socket.uncork();
      }
    } else if (ending) {
      res.end();
    }
    const at = performance.now();
    const k = this.script.tokensPerChunk;
    for (let j = first; j < this.next; j++) {
      server.chunkSent(id, j, Math.min(k, this.init.outputTokens - j * k), at);
    }
    if (cutNow) {
      server.streamCut();
      res.socket?.destroy();
      return;
    }
    if (!ending) {
      this.task.deadline = this.deadlineOf(this.next);
      server.schedule(this.task);
    }
  }

  /** The text of chunk `j`, split into reasoning and content tokens. */
  private pieces(j: number): { reasoning: string; content: string; tokens: number } {
    const k = this.script.tokensPerChunk;
    const start = j * k;
    const end = Math.min(start + k, this.init.outputTokens);
    const r = this.script.reasoningTokens;
    const reasoningCount = Math.max(0, Math.min(end, r) - start);
    return {
      reasoning: REASONING_TOKEN.repeat(reasoningCount),
      content: CONTENT_TOKEN.repeat(end - start - reasoningCount),
      tokens: end - start,
    };
  }

  private chunk(j: number): string {
    const { kind } = this.init;
    const s = this.script;
    const { reasoning, content } = this.pieces(j);
    const isLast = j === this.chunkCount - 1;
    if (kind === "chat" || kind === "completions") {
      let out = s.keepAlive ? ": keep-alive\n\n" : "";
      const choice: Record<string, unknown> = { index: 0 };
      if (kind === "chat") {
        const delta: Record<string, unknown> = {};
        if (reasoning !== "") delta.reasoning_content = reasoning;
        if (content !== "") delta.content = content;
        choice.delta = delta;
      } else {
        choice.text = reasoning + content;
      }
      choice.finish_reason = isLast ? this.finishReason() : null;
      if (isLast && s.timings)
        out += this.sse({ ...this.base(), choices: [choice], timings: this.llamaTimings() });
      else out += this.sseChoice(choice);
      if (s.emptyDeltas) {
        const empty =
          kind === "chat"
            ? { index: 0, delta: { content: "" }, finish_reason: null }
            : { index: 0, text: "", finish_reason: null };
        out += this.sseChoice(empty);
      }
      return out;
    }
    const message: Record<string, unknown> = { role: "assistant", content };
    if (reasoning !== "") message.thinking = reasoning;
    const line =
      kind === "ollama-chat"
        ? { model: this.init.model, created_at: this.createdAt, message, done: false }
        : {
            model: this.init.model,
            created_at: this.createdAt,
            response: content,
            ...(reasoning === "" ? {} : { thinking: reasoning }),
            done: false,
          };
    return `${JSON.stringify(line)}\n`;
  }

  /** What follows the last token chunk: usage and `[DONE]`, or Ollama's final object. */
  private tail(): string {
    const { kind, includeUsage, promptTokens, outputTokens } = this.init;
    const s = this.script;
    if (kind === "ollama-chat" || kind === "ollama-generate") {
      const ns = 1e6;
      const final: Record<string, unknown> = { model: this.init.model, created_at: this.createdAt };
      if (kind === "ollama-chat") final.message = { role: "assistant", content: "" };
      else final.response = "";
      Object.assign(final, {
        done: true,
        done_reason: this.finishReason(),
        total_duration: Math.round(
          (s.ttftMs + Math.max(0, this.chunkCount - 1) * s.tokensPerChunk * s.itlMs) * ns,
        ),
        load_duration: 0,
        prompt_eval_count: promptTokens,
        prompt_eval_duration: Math.round(s.ttftMs * ns),
        eval_count: outputTokens,
        eval_duration: Math.round(outputTokens * s.itlMs * ns),
      });
      return `${JSON.stringify(final)}\n`;
    }
    let out = "";
    if (this.chunkCount === 0) {
      const choice =
        kind === "chat"
          ? { index: 0, delta: {}, finish_reason: "length" }
          : { index: 0, text: "", finish_reason: "length" };
      out += this.sse({ ...this.base(), choices: [choice] });
    }
    if (includeUsage) {
      out += this.sse({
        ...this.base(),
        choices: [],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: outputTokens,
          total_tokens: promptTokens + outputTokens,
          prompt_tokens_details: { cached_tokens: s.cachedPromptTokens },
        },
      });
    }
    return `${out}${OpenAiChunkFormat.DONE}`;
  }

  private finishUnstreamed(): void {
    const { res, kind, promptTokens, outputTokens, server, id } = this.init;
    let text = "";
    for (let j = 0; j < this.chunkCount; j++) {
      const p = this.pieces(j);
      text += p.reasoning + p.content;
    }
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: outputTokens,
      total_tokens: promptTokens + outputTokens,
    };
    const choice =
      kind === "completions"
        ? { index: 0, text, finish_reason: this.finishReason() }
        : { index: 0, message: { role: "assistant", content: text }, finish_reason: this.finishReason() };
    sendJson(res, 200, {
      ...this.base(),
      object: kind === "completions" ? "text_completion" : "chat.completion",
      choices: [choice],
      usage,
    });
    server.chunkSent(id, 0, outputTokens, performance.now());
  }

  private finishReason(): string {
    return this.init.outputTokens >= this.init.maxTokens ? "length" : "stop";
  }

  private llamaTimings(): Record<string, number> {
    const s = this.script;
    const n = this.init.outputTokens;
    const p = this.init.promptTokens;
    return {
      cache_n: s.cachedPromptTokens,
      prompt_n: p,
      prompt_ms: s.ttftMs,
      prompt_per_token_ms: p > 0 ? s.ttftMs / p : 0,
      prompt_per_second: s.ttftMs > 0 ? (p * 1000) / s.ttftMs : 0,
      predicted_n: n,
      // As llama.cpp: from the first token to the last, n - 1 decode steps.
      predicted_ms: Math.max(0, n - 1) * s.itlMs,
      predicted_per_token_ms: s.itlMs,
      predicted_per_second: s.itlMs > 0 ? 1000 / s.itlMs : 0,
    };
  }

  private base(): Record<string, unknown> {
    return this.format.base();
  }

  /** One chunk with a single choice; the hot path, so the fixed part of the JSON is reused. */
  private sseChoice(choice: unknown): string {
    return this.format.choice(choice);
  }

  private get createdAt(): string {
    return new Date(this.created * 1000).toISOString();
  }

  private sse(value: unknown): string {
    return this.format.event(value);
  }
}

function invalid(message: string): never {
  throw new TokbenchError("INVALID_ARGUMENT", `mock server: ${message}`);
}
