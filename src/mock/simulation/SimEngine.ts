import { bytesInUse, loadExceedsBudget, type SimMemory } from "./memoryModel.js";
import type { SimNoise } from "./SimNoise.js";
import type { SimulationConfig } from "./SimulationConfig.js";
import type { IterationWork, SpeedModel } from "./speedModel.js";

/** The time source of the engine: real (the mock's EmissionScheduler) or virtual (tests). */
export interface SimClock {
  /** Current time, ms. */
  now(): number;
  /** Runs `fire` at the absolute time `deadline`; the engine has at most one call pending. */
  at(deadline: number, fire: () => void): void;
  /** Drops the pending call. */
  cancel(): void;
}

/** How a generation ended: llama-server's `finish_reason`, its `timings` and its usage counts. */
export interface SimFinish {
  finish_reason: "length" | "stop";
  /** Stopped because the slot's context was full. */
  truncated: boolean;
  /** Prompt tokens of the request (usage `prompt_tokens`). */
  prompt_tokens: number;
  /** Prompt tokens reused from the slot's cache (`cache_n`, `cached_tokens`). */
  cached_tokens: number;
  /** Prompt tokens processed (`prompt_n`). */
  prompt_n: number;
  /** From the start of prompt processing to the first token (`prompt_ms`). */
  prompt_ms: number;
  /** Generated tokens (`predicted_n`). */
  predicted_n: number;
  /** From the first token to the last (`predicted_ms`), at least 0.001 ms as in llama.cpp. */
  predicted_ms: number;
  /** `prompt_ms` as simulated, without the host's delays: the same for a seed, always. */
  simulated_prompt_ms: number;
  /** `predicted_ms` as simulated, without the host's delays. */
  simulated_predicted_ms: number;
  /** What an overloaded host added to this request's times (see {@link LATE_ABSORBED_MS}). */
  host_delay_ms: number;
}

/** Where the engine reports one request's progress (the HTTP layer writes it to the client). */
export interface SimSequenceSink {
  /** A slot took the request: llama-server sends the response headers now. */
  started(slot: number, atMs: number): void;
  /** Generated token `index` (0-based) is out at `atMs`. */
  token(index: number, atMs: number): void;
  /** Generation ended with the last token (same time). */
  finished(result: SimFinish, atMs: number): void;
  /** The prompt does not fit a slot's context: answered without generating. */
  contextExceeded(promptTokens: number, slotContext: number): void;
}

/** One generation request as the engine sees it. */
export interface SimRequest {
  /** Task id (llama-server's `task N` in its logs). */
  readonly id: number;
  /** Prompt tokens (the mock tokenizer's words); compared with a slot's cache for prompt reuse. */
  readonly promptWords: readonly string[];
  /** Most tokens to generate. */
  readonly maxTokens: number;
  /** Simulated end-of-sequence after this many tokens; null never stops early. */
  readonly stopAfter: number | null;
  /** Whether the prompt may reuse a slot's cache (llama-server's `cache_prompt`, on by default). */
  readonly cachePrompt: boolean;
  readonly sink: SimSequenceSink;
}

/** What the engine tells its host besides per-request progress. */
export interface SimEngineHooks {
  /** A llama-server-like log line (without newline). */
  log(line: string): void;
  /**
   * `active` sequences' compute buffers no longer fit the budget: the server must die now
   * (llama.cpp aborts). The engine has stopped; it will not call anything again.
   */
  outOfMemory(requestBytes: number, active: number, inUseBytes: number): void;
}

/**
 * Lateness of the host's timer that is absorbed (the schedule keeps its due times, so nothing
 * drifts and the timings stay exactly the seed's): 2 ms, or half the iteration when longer. A host
 * later than that is overloaded; the simulated server then runs slower, as a real one would: the
 * iteration lasts until it actually ended, its sequences' timings include the delay, and no backlog
 * of tokens goes out in a burst.
 */
const LATE_ABSORBED_MS = 2;

/** The word a generated token is made of (the mock's `" tok"`, without the space). */
const GENERATED_WORD = "tok";

interface Slot {
  readonly id: number;
  request: SimRequest | null;
  cancelled: boolean;
  state: "idle" | "prompt" | "generating";
  /** Tokens in the KV cache. */
  nPast: number;
  promptTokens: number;
  cached: number;
  generated: number;
  /** Simulated time since the slot took the request, until its first token. */
  promptMs: number;
  /** Simulated time from the first token to the latest. */
  genMs: number;
  /** Host delays added to the prompt and generation times (see LATE_ABSORBED_MS). */
  promptDelayMs: number;
  genDelayMs: number;
  lastUsed: number;
  /** Prompt of the last request served, then `generatedAfter` generated tokens: the slot's cache. */
  cacheWords: readonly string[];
  generatedAfter: number;
}

/**
 * The simulated server's main loop, llama-server's `update_slots` in miniature: requests wait in a
 * FIFO queue for one of `parallel` slots; each iteration decodes one token of every generating
 * sequence plus as much pending prompt as the logical batch holds (slot order), takes the time the
 * {@link SpeedModel} gives times the {@link SimNoise} factor, and at its end emits those tokens.
 * A prompt's first token comes out of the iteration that completes it. Stop rules, prompt-cache
 * reuse, slot choice and the reported timings follow llama-server's.
 *
 * Timings are sums of simulated durations, so the same seed, knobs and requests give the same
 * timings whenever they run, and timer lateness never accumulates; only a host too loaded to keep
 * up (see {@link LATE_ABSORBED_MS}) stretches them, as it would stretch a real server's, and the
 * unstretched figures are kept beside them (`simulated_*`, `host_delay_ms`).
 */
export class SimEngine {
  private readonly config: SimulationConfig;
  private readonly speed: SpeedModel;
  private readonly noise: SimNoise;
  private readonly memory: SimMemory;
  private readonly clock: SimClock;
  private readonly hooks: SimEngineHooks;
  private readonly slots: Slot[];
  private readonly queue: SimRequest[] = [];
  private readonly cancelledRequests = new Set<SimRequest>();
  private running = false;
  private dead = false;
  private iterations = 0;
  private lateIterations = 0;
  private delayMs = 0;
  /** Work of the iteration in flight: decoding slots and prompt chunks. */
  private decoding: Slot[] = [];
  private prefilling: { slot: Slot; tokens: number }[] = [];

  constructor(
    config: SimulationConfig,
    parts: { speed: SpeedModel; noise: SimNoise; memory: SimMemory; clock: SimClock; hooks: SimEngineHooks },
  ) {
    this.config = config;
    this.speed = parts.speed;
    this.noise = parts.noise;
    this.memory = parts.memory;
    this.clock = parts.clock;
    this.hooks = parts.hooks;
    this.slots = Array.from({ length: config.parallel }, (_, id) => ({
      id,
      request: null,
      cancelled: false,
      state: "idle" as const,
      nPast: 0,
      promptTokens: 0,
      cached: 0,
      generated: 0,
      promptMs: 0,
      genMs: 0,
      promptDelayMs: 0,
      genDelayMs: 0,
      lastUsed: -1,
      cacheWords: [],
      generatedAfter: 0,
    }));
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.queue.length;
  }

  /** Sequences holding a slot. */
  get active(): number {
    return this.slots.filter((s) => s.request !== null).length;
  }

  /** Iterations run so far. */
  get iterationCount(): number {
    return this.iterations;
  }

  /** Iterations the host ran too late to absorb, and the time they added (see LATE_ABSORBED_MS). */
  get hostDelay(): { late_iterations: number; delay_ms: number } {
    return { late_iterations: this.lateIterations, delay_ms: this.delayMs };
  }

  /** Queues a request; the loop takes it at its next iteration (at once when idle). */
  submit(request: SimRequest): void {
    if (this.dead) return;
    this.queue.push(request);
    if (!this.running) {
      this.running = true;
      // Start on the next turn, so requests arriving together share the first iteration.
      const now = this.clock.now();
      this.clock.at(now, () => this.startIteration(now));
    }
  }

  /** The client went away: the request leaves the queue, or frees its slot at the next iteration. */
  cancel(request: SimRequest): void {
    const i = this.queue.indexOf(request);
    if (i >= 0) this.queue.splice(i, 1);
    else this.cancelledRequests.add(request);
  }

  /** Stops the loop for good (server shutdown). */
  stop(): void {
    this.dead = true;
    this.clock.cancel();
  }

  private startIteration(at: number): void {
    if (this.dead) return;
    for (const slot of this.slots) {
      if (slot.request !== null && this.cancelledRequests.has(slot.request)) this.release(slot, at, true);
    }
    this.assignSlots(at);
    if (this.dead) return;
    const work = this.compose();
    if (work === null) {
      this.running = false;
      this.hooks.log("srv  update_slots: all slots are idle");
      return;
    }
    this.iterations++;
    const duration = this.speed.iterationMs(work) * this.noise.next();
    const end = at + duration;
    this.clock.at(end, () => this.finishIteration(end, duration));
  }

  private assignSlots(at: number): void {
    while (this.queue.length > 0) {
      const slot = this.pickSlot(this.queue[0] as SimRequest);
      if (slot === null) return;
      const request = this.queue.shift() as SimRequest;
      const promptTokens = Math.max(1, request.promptWords.length);
      if (promptTokens >= this.config.slotContext) {
        this.hooks.log(
          `srv    send_error: task id = ${request.id}, error: request (${promptTokens} tokens) exceeds the available context size (${this.config.slotContext} tokens), try increasing it`,
        );
        request.sink.contextExceeded(promptTokens, this.config.slotContext);
        continue;
      }
      const active = this.active + 1;
      if (loadExceedsBudget(this.memory, active)) {
        this.dead = true;
        this.clock.cancel();
        this.hooks.outOfMemory(this.memory.seq_buffer_bytes, active, bytesInUse(this.memory, active));
        return;
      }
      const cached = request.cachePrompt
        ? Math.min(this.commonPrefix(slot, request.promptWords), promptTokens - 1)
        : 0;
      Object.assign(slot, {
        request,
        cancelled: false,
        state: "prompt",
        nPast: cached,
        promptTokens,
        cached,
        generated: 0,
        promptMs: 0,
        genMs: 0,
        promptDelayMs: 0,
        genDelayMs: 0,
      });
      this.slotLog(slot, "launch_slot_", "processing task");
      this.slotLog(
        slot,
        "update_slots",
        `new prompt, n_ctx_slot = ${this.config.slotContext}, n_keep = 0, task.n_tokens = ${promptTokens}`,
      );
      if (cached > 0) this.slotLog(slot, "update_slots", `n_past = ${cached}, reusing the cached prompt`);
      request.sink.started(slot.id, at);
    }
  }

  /**
   * llama-server's choice: the idle slot whose cache shares more than 10 % of the prompt, the most
   * shared first; else the least recently used.
   */
  private pickSlot(request: SimRequest): Slot | null {
    let best: Slot | null = null;
    let bestShare = 0.1;
    let lru: Slot | null = null;
    for (const slot of this.slots) {
      if (slot.request !== null) continue;
      const share = this.commonPrefix(slot, request.promptWords) / Math.max(1, request.promptWords.length);
      if (share > bestShare) {
        best = slot;
        bestShare = share;
      }
      if (lru === null || slot.lastUsed < lru.lastUsed) lru = slot;
    }
    return best ?? lru;
  }

  private commonPrefix(slot: Slot, words: readonly string[]): number {
    const cache = slot.cacheWords;
    const limit = Math.min(words.length, cache.length + slot.generatedAfter);
    let n = 0;
    while (n < limit && words[n] === (n < cache.length ? cache[n] : GENERATED_WORD)) n++;
    return n;
  }

  private compose(): IterationWork | null {
    this.decoding = [];
    this.prefilling = [];
    const decodeContexts: number[] = [];
    for (const slot of this.slots) {
      if (slot.state === "generating") {
        this.decoding.push(slot);
        decodeContexts.push(slot.nPast);
      }
    }
    let room = this.config.batchSize - this.decoding.length;
    const prefill: { start: number; tokens: number }[] = [];
    let completing = 0;
    for (const slot of this.slots) {
      if (room <= 0) break;
      if (slot.state !== "prompt") continue;
      const tokens = Math.min(slot.promptTokens - slot.nPast, room);
      room -= tokens;
      prefill.push({ start: slot.nPast, tokens });
      this.prefilling.push({ slot, tokens });
      if (slot.nPast + tokens === slot.promptTokens) completing++;
    }
    if (this.decoding.length === 0 && prefill.length === 0) return null;
    return { decodeContexts, prefill, sampled: this.decoding.length + completing };
  }

  private finishIteration(due: number, duration: number): void {
    if (this.dead) return;
    const late = this.clock.now() - due;
    const stretch = late > Math.max(LATE_ABSORBED_MS, duration / 2) ? late : 0;
    const end = due + stretch;
    if (stretch > 0) {
      this.delayMs += stretch;
      this.lateIterations++;
      // llama-server would not know; the test double says once in a while that the host is the cause.
      if (this.lateIterations % 100 === 1)
        this.hooks.log(
          `srv  update_slots: simulation: the host ran ${stretch.toFixed(1)} ms late (${this.lateIterations} late iterations, ${this.delayMs.toFixed(0)} ms in all); times stretch as a real server's would`,
        );
    }
    // Times are sums of simulated durations, never differences of clock readings, so the same
    // seed gives the same timings to the last bit whenever the run starts (unless the host could
    // not keep up: see LATE_ABSORBED_MS).
    for (const slot of this.slots) {
      if (slot.state === "prompt") {
        slot.promptMs += duration;
        slot.promptDelayMs += stretch;
      } else if (slot.state === "generating") {
        slot.genMs += duration;
        slot.genDelayMs += stretch;
      }
    }
    for (const slot of this.decoding) {
      if (slot.request === null || this.cancelledRequests.has(slot.request)) continue;
      slot.nPast++;
      slot.generated++;
      slot.request.sink.token(slot.generated - 1, end);
      this.checkStop(slot, end);
    }
    for (const { slot, tokens } of this.prefilling) {
      if (slot.request === null || this.cancelledRequests.has(slot.request)) continue;
      slot.nPast += tokens;
      if (slot.nPast < slot.promptTokens) continue;
      slot.state = "generating";
      slot.generated = 1;
      this.slotLog(slot, "update_slots", `prompt done, n_tokens = ${slot.nPast}, batch.n_tokens = ${tokens}`);
      slot.request.sink.token(0, end);
      this.checkStop(slot, end);
    }
    this.startIteration(end);
  }

  /** llama-server's `process_token` limits, in its order: context capacity, then the budget. */
  private checkStop(slot: Slot, at: number): void {
    const request = slot.request as SimRequest;
    let reason: "length" | "stop" | null = null;
    let truncated = false;
    if (slot.nPast + 1 >= this.config.slotContext) {
      reason = "length";
      truncated = true;
    } else if (slot.generated >= request.maxTokens) reason = "length";
    else if (request.stopAfter !== null && slot.generated >= request.stopAfter) reason = "stop";
    if (reason === null) return;
    // llama.cpp takes microsecond timestamps and reports ms with three decimals.
    const us = (ms: number) => Math.round(ms * 1000) / 1000;
    const promptMs = us(slot.promptMs + slot.promptDelayMs);
    const predictedMs = Math.max(0.001, us(slot.genMs + slot.genDelayMs));
    const result: SimFinish = {
      finish_reason: reason,
      truncated,
      prompt_tokens: slot.promptTokens,
      cached_tokens: slot.cached,
      prompt_n: slot.promptTokens - slot.cached,
      prompt_ms: promptMs,
      predicted_n: slot.generated,
      predicted_ms: predictedMs,
      simulated_prompt_ms: us(slot.promptMs),
      simulated_predicted_ms: Math.max(0.001, us(slot.genMs)),
      host_delay_ms: us(slot.promptDelayMs + slot.genDelayMs),
    };
    this.logTimings(slot, result);
    request.sink.finished(result, at);
    this.release(slot, at, truncated);
  }

  private release(slot: Slot, at: number, truncated: boolean): void {
    const request = slot.request as SimRequest;
    this.cancelledRequests.delete(request);
    this.slotLog(
      slot,
      "release",
      `stop processing: n_tokens = ${slot.nPast}, truncated = ${truncated ? 1 : 0}`,
    );
    slot.cacheWords = request.promptWords;
    slot.generatedAfter = Math.max(0, slot.nPast - slot.promptTokens);
    slot.request = null;
    slot.state = "idle";
    slot.lastUsed = at;
  }

  private logTimings(slot: Slot, r: SimFinish): void {
    const f = (n: number, width: number) => n.toFixed(2).padStart(width);
    const steps = Math.max(0, r.predicted_n - 1);
    this.slotLog(slot, "print_timing", "");
    this.hooks.log(
      `prompt eval time = ${f(r.prompt_ms, 10)} ms / ${String(r.prompt_n).padStart(5)} tokens (${f(r.prompt_n > 0 ? r.prompt_ms / r.prompt_n : 0, 8)} ms per token, ${f(r.prompt_ms > 0 ? (1000 * r.prompt_n) / r.prompt_ms : 0, 8)} tokens per second)`,
    );
    this.hooks.log(
      `       eval time = ${f(r.predicted_ms, 10)} ms / ${String(r.predicted_n).padStart(5)} tokens (${f(steps > 0 ? r.predicted_ms / steps : 0, 8)} ms per token, ${f((1000 * steps) / r.predicted_ms, 8)} tokens per second)`,
    );
    this.hooks.log(
      `      total time = ${f(r.prompt_ms + r.predicted_ms, 10)} ms / ${String(r.prompt_n + r.predicted_n).padStart(5)} tokens`,
    );
  }

  private slotLog(slot: Slot, fn: string, message: string): void {
    const task = slot.request === null ? -1 : slot.request.id;
    this.hooks.log(
      `slot ${fn.padStart(12).slice(0, 12)}: id ${String(slot.id).padStart(2)} | task ${task} | ${message}`,
    );
  }
}
