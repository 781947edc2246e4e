import type http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { performance } from "node:perf_hooks";
import { TokbenchError } from "../errors/TokbenchError.js";
import { sanitizeText } from "../text/sanitizeText.js";
import { EmissionScheduler, type ScheduledTask } from "./EmissionScheduler.js";
import {
  createMockHttpServer,
  isObject,
  listenOrigin,
  OpenAiChunkFormat,
  parseJsonObject,
  promptText,
  sendJson,
} from "./mockHttp.js";
import { countMockTokens } from "./mockTokenizer.js";
import { bytesInUse, type SimMemory, simMemory, startupOom } from "./simulation/memoryModel.js";
import { type SimClock, SimEngine, type SimFinish, type SimRequest } from "./simulation/SimEngine.js";
import { configurationKey, SimNoise } from "./simulation/SimNoise.js";
import {
  resolveSimulation,
  type SimulationConfig,
  type SimulationOptions,
} from "./simulation/SimulationConfig.js";
import { SpeedModel } from "./simulation/speedModel.js";

/** Options of the {@link SimulatedServer}: the simulation's knobs plus how it serves. */
export interface SimulatedServerOptions extends SimulationOptions {
  /** Interface to listen on. Defaults to `"127.0.0.1"`. */
  host?: string;
  /** Port; 0 picks a free one. Defaults to 0. */
  port?: number;
  /** Model name listed by `/v1/models` (llama-server `--alias`). Defaults to `"simulated-model"`. */
  alias?: string;
  /** Model path shown in logs and `/props` (llama-server `-m`); nothing is read from it. Defaults to the alias. */
  modelPath?: string;
  /** Tokens generated when a request names no `max_tokens` (`n_predict`). Defaults to 16. */
  defaultMaxTokens?: number;
  /**
   * Simulated end-of-sequence: without `ignore_eos` / `min_tokens`, generation stops after this
   * many tokens (finish `stop`). Null never stops early. Defaults to null.
   */
  stopAfter?: number | null;
  /** When set, generation and model requests need `Authorization: Bearer <apiKey>`. Defaults to null. */
  apiKey?: string | null;
  /** How long before a deadline the scheduler polls instead of sleeping. Defaults to 1. */
  spinMs?: number;
  /**
   * Crash (exit 139, like a segmentation fault) when generation request number `crashAfter + 1`
   * arrives, for testing how launchers classify a crash. Null never crashes. Defaults to null.
   */
  crashAfter?: number | null;
}

/** Where the server's life goes: its log lines and its exit. The CLI prints and exits; tests record. */
export interface SimulatedServerHooks {
  /** One llama-server-like log line, without its newline. Defaults to dropping it. */
  log?(line: string): void;
  /**
   * The server died: 1 when the model could not be loaded (out of memory at start, bad knobs),
   * 134 when it ran out of memory under load (llama.cpp aborts), 139 for a simulated crash
   * (`crashAfter`). Every connection has been
   * destroyed and the port closed before this is called. Defaults to nothing more.
   */
  exit?(code: number): void;
}

/** Where the server is in its life. */
export type SimulatedServerState = "created" | "loading" | "ready" | "failed" | "closed";

const MIB = 1024 * 1024;
const GENERATED_TOKEN = " tok";

/**
 * `tokbench mock --simulate`: an OpenAI-compatible server that behaves like llama.cpp's
 * llama-server under load, for tests and demos of launching, sweeping and tuning. It is a test
 * double: its speeds and memory come from the model in `src/mock/simulation/` (see
 * docs/simulated-server.md), never from a measurement, and it says so in its first log line,
 * in `/props` and in `/v1/models`.
 *
 * Like llama-server it listens at once and answers 503 `Loading model` until start-up is over,
 * fails to start (exit 1) when weights + KV cache exceed the memory budget, queues requests
 * beyond its slots, batches the active sequences, answers 400 to a prompt that does not fit a
 * slot, reports llama.cpp `timings`, and dies (exit 134) when active sequences' buffers exceed
 * the budget. Tokens are the mock tokenizer's words, so `/tokenize` counts exactly.
 */
export class SimulatedServer {
  /** The resolved knobs. */
  readonly config: SimulationConfig;
  /** The allocations the knobs imply. */
  readonly memory: SimMemory;
  private readonly options: SimulatedServerOptions;
  private readonly hooks: SimulatedServerHooks;
  private readonly scheduler: EmissionScheduler;
  private readonly engine: SimEngine;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly alias: string;
  private readonly modelPath: string;
  private nextId = 0;
  private origin: string | null = null;
  private current: SimulatedServerState = "created";
  private settleLoaded: (state: "ready" | "failed") => void = () => {};
  /** Resolves when start-up ends: `ready`, or `failed` (the exit hook has been called). */
  readonly loaded: Promise<"ready" | "failed">;

  /** Throws `INVALID_ARGUMENT` for knobs no llama-server would take (see {@link resolveSimulation}). */
  constructor(options: SimulatedServerOptions = {}, hooks: SimulatedServerHooks = {}) {
    this.options = options;
    this.hooks = hooks;
    this.config = resolveSimulation(options);
    this.memory = simMemory(this.config);
    this.alias = options.alias ?? "simulated-model";
    this.modelPath = options.modelPath ?? this.alias;
    const maxTokens = options.defaultMaxTokens ?? 16;
    if (!Number.isInteger(maxTokens) || maxTokens < 1)
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        "simulated server: default max tokens must be an integer >= 1",
      );
    this.loaded = new Promise((resolve) => {
      this.settleLoaded = resolve;
    });
    this.scheduler = new EmissionScheduler(options.spinMs ?? 1);
    const clock = new SchedulerClock(this.scheduler);
    const c = this.config;
    this.engine = new SimEngine(c, {
      speed: new SpeedModel(c),
      noise: new SimNoise(c.seed, c.noise, configurationKey(c)),
      memory: this.memory,
      clock,
      hooks: {
        log: (line) => this.log(line),
        outOfMemory: (requestBytes, active, inUse) => this.dieOutOfMemory(requestBytes, active, inUse),
      },
    });
    this.server = createMockHttpServer((req, res) => this.handle(req, res), this.sockets);
  }

  /** Where the server is in its life. */
  get state(): SimulatedServerState {
    return this.current;
  }

  /** Requests waiting for a slot and sequences holding one. */
  get load(): { queued: number; active: number } {
    return { queued: this.engine.queued, active: this.engine.active };
  }

  /**
   * Listens (so `/health` answers 503 at once, like llama-server), then loads the simulated model
   * in the background; resolves to the OpenAI base URL, e.g. `http://127.0.0.1:41234/v1`.
   * Rejects with the listen error (`EADDRINUSE`...) without calling the exit hook.
   */
  async listen(): Promise<string> {
    const c = this.config;
    this.log(
      "tokbench mock --simulate: a simulated llama-server (a test double: every speed and size it reports comes from a model, not a measurement)",
    );
    this.log(`build: 0 (tokbench-simulated) for ${process.platform}-${process.arch}`);
    this.log(
      `system info: n_threads = ${c.threads}, n_threads_batch = ${c.threads}, total_threads = ${c.cores}`,
    );
    this.origin = await listenOrigin(this.server, this.options.host ?? "127.0.0.1", this.options.port ?? 0);
    const address = this.server.address() as AddressInfo;
    this.current = "loading";
    this.log(
      `main: HTTP server is listening, hostname: ${address.address}, port: ${address.port}, http threads: ${c.cores}`,
    );
    this.log("main: loading model");
    this.log(`srv    load_model: loading model '${this.modelPath}'`);
    this.startLoading();
    return `${this.origin}/v1`;
  }

  /** `http://host:port`. Throws before `listen()`. */
  get url(): string {
    if (this.origin === null) throw new TokbenchError("INTERNAL", "the simulated server is not listening");
    return this.origin;
  }

  /** Stops like llama-server on SIGTERM: logs, drops every connection, stops listening. */
  async close(): Promise<void> {
    if (this.current === "closed" || this.current === "failed") return;
    this.log("srv    operator(): operator(): cleaning up before exit...");
    await this.shutdown("closed");
  }

  private startLoading(): void {
    const c = this.config;
    const m = this.memory;
    const mib = (bytes: number) => (bytes / MIB).toFixed(2).padStart(8);
    this.later(c.startupMs * 0.6, () => {
      const failure = startupOom(m);
      if (failure?.stage === "weights") {
        this.log(
          `ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size ${failure.request_bytes}`,
        );
        this.log("llama_model_load: error loading model: unable to allocate CPU buffer");
        this.log("llama_model_load_from_file_impl: failed to load model");
        this.failStart();
        return;
      }
      this.log(`load_tensors:          CPU model buffer size = ${mib(m.weights_bytes)} MiB`);
      this.log(`llama_context: n_seq_max     = ${c.parallel}`);
      this.log(`llama_context: n_ctx         = ${c.contextTokens}`);
      this.log(`llama_context: n_ctx_seq     = ${c.slotContext}`);
      this.log(`llama_context: n_batch       = ${c.batchSize}`);
      this.log(`llama_context: n_ubatch      = ${c.effectiveUbatch}`);
      this.log(`llama_context: flash_attn    = ${c.flashAttn}`);
      if (c.cacheTypeV !== "f16" && !c.flashAttnOn) {
        this.log("llama_init_from_model: quantized V cache requires flash_attn to be enabled");
        this.failStart();
        return;
      }
      if (failure?.stage === "kv") {
        this.log(
          `ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size ${failure.request_bytes}`,
        );
        this.log(
          "llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache",
        );
        this.failStart();
        return;
      }
      this.log(
        `llama_kv_cache:        CPU KV buffer size = ${mib(m.kv_bytes)} MiB (${c.contextTokens} cells, K (${c.cacheTypeK}), V (${c.cacheTypeV}))`,
      );
      if (failure?.stage === "compute") {
        this.log(`ggml_gallocr_reserve_n: failed to allocate CPU buffer of size ${failure.request_bytes}`);
        this.log(
          "llama_init_from_model: failed to initialize the context: failed to allocate compute pp buffers",
        );
        this.failStart();
        return;
      }
      this.log(`llama_context:        CPU compute buffer size = ${mib(m.compute_bytes)} MiB`);
      this.later(c.startupMs * 0.4, () => this.becomeReady());
    });
  }

  private becomeReady(): void {
    const c = this.config;
    this.log(`srv    load_model: initializing slots, n_slots = ${c.parallel}`);
    for (let i = 0; i < c.parallel; i++) {
      this.log(
        `slot   load_model: id ${String(i).padStart(2)} | task -1 | new slot, n_ctx = ${c.slotContext}`,
      );
    }
    this.log("main: model loaded");
    this.current = "ready";
    this.log(`main: server is listening on ${this.url} - starting the main loop`);
    this.log("srv  update_slots: all slots are idle");
    this.settleLoaded("ready");
  }

  private failStart(): void {
    this.log(`common_init_from_params: failed to create context with model '${this.modelPath}'`);
    this.log(`srv    load_model: failed to load model, '${this.modelPath}'`);
    this.log("main: error: unable to load model");
    void this.shutdown("failed").then(() => {
      this.settleLoaded("failed");
      this.hooks.exit?.(1);
    });
  }

  private dieOutOfMemory(requestBytes: number, active: number, inUse: number): void {
    this.log(`ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size ${requestBytes}`);
    this.log(`ggml_gallocr_reserve_n: failed to allocate CPU buffer of size ${requestBytes}`);
    this.log(
      `llama_decode: failed to allocate the compute buffer of sequence ${active} (${(inUse / MIB).toFixed(2)} MiB in use, budget ${((this.memory.budget_bytes ?? 0) / MIB).toFixed(2)} MiB)`,
    );
    this.log('ggml/src/ggml-alloc.c: GGML_ASSERT(buffer != NULL && "failed to allocate buffer") failed');
    void this.shutdown("failed").then(() => this.hooks.exit?.(134));
  }

  private async shutdown(state: "closed" | "failed"): Promise<void> {
    this.current = state;
    this.engine.stop();
    this.scheduler.clear();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    if (state === "closed") this.settleLoaded("failed");
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }

  private log(line: string): void {
    // A model path or alias is the user's text: never a raw control character in a terminal.
    this.hooks.log?.(sanitizeText(line));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const parts: Buffer[] = [];
    req.on("data", (chunk: Buffer) => parts.push(chunk));
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      if (this.current !== "ready") {
        sendJson(res, 503, { error: { code: 503, message: "Loading model", type: "unavailable_error" } });
        return;
      }
      if (req.method === "GET" && (path === "/health" || path === "/v1/health")) {
        sendJson(res, 200, { status: "ok" });
        return;
      }
      const key = this.options.apiKey ?? null;
      if (key !== null && req.headers.authorization !== `Bearer ${key}`) {
        sendJson(res, 401, {
          error: { code: 401, message: "Invalid API Key", type: "authentication_error" },
        });
        return;
      }
      if (req.method === "GET" && (path === "/v1/models" || path === "/models")) {
        sendJson(res, 200, {
          object: "list",
          data: [
            {
              id: this.alias,
              object: "model",
              created: Math.floor(Date.now() / 1000),
              owned_by: "tokbench-simulated",
              meta: {
                simulated: true,
                n_ctx_train: this.config.contextTokens,
                size: this.memory.weights_bytes,
              },
            },
          ],
        });
        return;
      }
      if (req.method === "GET" && path === "/props") {
        this.props(res);
        return;
      }
      if (req.method !== "POST") {
        notFound(res);
        return;
      }
      const body = parseJsonObject(Buffer.concat(parts));
      if (body === null) {
        sendJson(res, 400, {
          error: { code: 400, message: "request body is not a JSON object", type: "invalid_request_error" },
        });
        return;
      }
      switch (path) {
        case "/tokenize": {
          const text = typeof body.content === "string" ? body.content : "";
          sendJson(res, 200, { tokens: Array.from({ length: countMockTokens(text) }, (_, i) => i + 1) });
          return;
        }
        case "/v1/chat/completions":
        case "/chat/completions":
          this.generate(res, body, true);
          return;
        case "/v1/completions":
        case "/completions":
          this.generate(res, body, false);
          return;
        default:
          notFound(res);
      }
    });
  }

  private props(res: http.ServerResponse): void {
    const c = this.config;
    sendJson(res, 200, {
      default_generation_settings: { n_ctx: c.slotContext, params: { n_predict: -1 } },
      total_slots: c.parallel,
      model_path: this.modelPath,
      model_alias: this.alias,
      build_info: "tokbench-simulated",
      simulated: {
        note: "a test double: speeds and sizes come from a model, not a measurement",
        ctx_size: c.ctxSize,
        n_ctx: c.contextTokens,
        parallel: c.parallel,
        threads: c.threads,
        batch_size: c.batchSize,
        ubatch_size: c.effectiveUbatch,
        cache_type_k: c.cacheTypeK,
        cache_type_v: c.cacheTypeV,
        flash_attn: c.flashAttn,
        n_gpu_layers: c.nGpuLayers,
        memory: { ...this.memory, in_use_bytes: bytesInUse(this.memory, this.engine.active) },
        host: this.engine.hostDelay,
      },
    });
  }

  private generate(res: http.ServerResponse, body: Record<string, unknown>, chat: boolean): void {
    const id = this.nextId++;
    const crashAfter = this.options.crashAfter ?? null;
    if (crashAfter !== null && id >= crashAfter) {
      this.log(
        `tokbench mock --simulate: simulated crash at request ${id + 1} (--crash-after ${crashAfter})`,
      );
      void this.shutdown("failed").then(() => this.hooks.exit?.(139));
      return;
    }
    const promptWords = words(promptText(body, chat ? "chat" : "completions"));
    const requested = body.max_tokens ?? body.max_completion_tokens ?? body.n_predict;
    const maxTokens =
      typeof requested === "number" && requested > 0
        ? Math.floor(requested)
        : (this.options.defaultMaxTokens ?? 16);
    const forced =
      body.ignore_eos === true || (typeof body.min_tokens === "number" && body.min_tokens >= maxTokens);
    const streamOptions = isObject(body.stream_options) ? body.stream_options : {};
    const stream = new SimStream({
      res,
      chat,
      streaming: body.stream === true,
      includeUsage: streamOptions.include_usage === true,
      format: new OpenAiChunkFormat(
        chat,
        `${chat ? "chatcmpl" : "cmpl"}-sim-${id}`,
        typeof body.model === "string" ? body.model : this.alias,
        Math.floor(Date.now() / 1000),
      ),
    });
    const request: SimRequest = {
      id,
      promptWords,
      maxTokens,
      stopAfter: forced ? null : (this.options.stopAfter ?? null),
      cachePrompt: body.cache_prompt !== false,
      sink: stream,
    };
    res.on("close", () => {
      if (!stream.ended) this.engine.cancel(request);
    });
    this.engine.submit(request);
  }
}

interface SimStreamInit {
  res: http.ServerResponse;
  chat: boolean;
  streaming: boolean;
  includeUsage: boolean;
  format: OpenAiChunkFormat;
}

/** One response: what the engine reports, written as llama-server writes it. */
class SimStream {
  ended = false;
  private readonly init: SimStreamInit;
  private tokens = 0;

  constructor(init: SimStreamInit) {
    this.init = init;
  }

  started(): void {
    const { res, chat, streaming, format } = this.init;
    if (!streaming) return;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    if (chat) {
      this.write(
        format.choice({ finish_reason: null, index: 0, delta: { role: "assistant", content: null } }),
      );
    } else res.flushHeaders();
  }

  token(): void {
    this.tokens++;
    const { chat, streaming, format } = this.init;
    if (!streaming) return;
    this.write(
      chat
        ? format.choice({ finish_reason: null, index: 0, delta: { content: GENERATED_TOKEN } })
        : format.choice({ text: GENERATED_TOKEN, index: 0, logprobs: null, finish_reason: null }),
    );
  }

  finished(result: SimFinish): void {
    this.ended = true;
    const { res, chat, streaming, includeUsage, format } = this.init;
    const usage = {
      completion_tokens: result.predicted_n,
      prompt_tokens: result.prompt_tokens,
      total_tokens: result.prompt_tokens + result.predicted_n,
      prompt_tokens_details: { cached_tokens: result.cached_tokens },
    };
    const timings = llamaTimings(result);
    // Not llama-server's: the figures without the host's delays, so a run stays comparable to the
    // seed's even on an overloaded machine; clients that do not know it ignore it.
    const simulation = {
      prompt_ms: result.simulated_prompt_ms,
      predicted_ms: result.simulated_predicted_ms,
      host_delay_ms: result.host_delay_ms,
    };
    if (!streaming) {
      const text = GENERATED_TOKEN.repeat(this.tokens);
      sendJson(res, 200, {
        ...format.base(),
        object: chat ? "chat.completion" : "text_completion",
        choices: [
          chat
            ? { finish_reason: result.finish_reason, index: 0, message: { role: "assistant", content: text } }
            : { text, index: 0, logprobs: null, finish_reason: result.finish_reason },
        ],
        usage,
        timings,
        simulation,
      });
      return;
    }
    // llama-server: a last chunk with the finish reason, the usage chunk when asked, and the
    // timings on whichever of them comes last.
    const last = {
      ...format.base(),
      choices: [
        chat
          ? { finish_reason: result.finish_reason, index: 0, delta: {} }
          : { text: "", index: 0, logprobs: null, finish_reason: result.finish_reason },
      ],
    };
    let out: string;
    if (includeUsage) {
      out = format.event(last) + format.event({ ...format.base(), choices: [], usage, timings, simulation });
    } else {
      out = format.event({ ...last, timings, simulation });
    }
    res.end(out + OpenAiChunkFormat.DONE);
  }

  contextExceeded(promptTokens: number, slotContext: number): void {
    this.ended = true;
    sendJson(this.init.res, 400, {
      error: {
        code: 400,
        message: `request (${promptTokens} tokens) exceeds the available context size (${slotContext} tokens), try increasing it`,
        type: "exceed_context_size_error",
        n_prompt_tokens: promptTokens,
        n_ctx: slotContext,
      },
    });
  }

  private write(text: string): void {
    const res = this.init.res;
    res.write(text);
    // node corks chunked responses until the next tick; flush now so the send time is true.
    const socket = res.socket;
    if (socket !== null && socket.writableCorked > 0) socket.uncork();
  }
}

/** llama-server's `timings` object, from `server_slot_stats::to_json`. */
function llamaTimings(r: SimFinish): Record<string, number> {
  const steps = Math.max(0, r.predicted_n - 1);
  return {
    cache_n: r.cached_tokens,
    prompt_n: r.prompt_n,
    prompt_ms: r.prompt_ms,
    prompt_per_token_ms: r.prompt_n > 0 ? r.prompt_ms / r.prompt_n : 0,
    prompt_per_second: r.prompt_ms > 0 ? (1000 * r.prompt_n) / r.prompt_ms : 0,
    predicted_n: r.predicted_n,
    predicted_ms: r.predicted_ms,
    predicted_per_token_ms: steps > 0 ? r.predicted_ms / steps : 0,
    predicted_per_second: r.predicted_ms > 0 ? (1000 * steps) / r.predicted_ms : 0,
  };
}

function notFound(res: http.ServerResponse): void {
  sendJson(res, 404, { error: { code: 404, message: "File Not Found", type: "not_found_error" } });
}

/** The mock tokenizer's tokens: runs of non-whitespace, so `words(t).length === countMockTokens(t)`. */
function words(text: string): string[] {
  return text.split(/[ \n\t\r\f\v]+/).filter((w) => w !== "");
}

/** The engine's clock on the mock's {@link EmissionScheduler}: absolute `performance.now()` deadlines. */
class SchedulerClock implements SimClock {
  private readonly scheduler: EmissionScheduler;
  private pending: ScheduledTask | null = null;

  constructor(scheduler: EmissionScheduler) {
    this.scheduler = scheduler;
  }

  now(): number {
    return performance.now();
  }

  at(deadline: number, fire: () => void): void {
    const task: ScheduledTask = {
      deadline,
      cancelled: false,
      fire: () => {
        if (this.pending === task) this.pending = null;
        fire();
      },
    };
    this.pending = task;
    this.scheduler.schedule(task);
  }

  cancel(): void {
    if (this.pending !== null) this.pending.cancelled = true;
    this.pending = null;
  }
}
