import { performance } from "node:perf_hooks";
import {
  allocateChunkTokens,
  computeRequestMetrics,
  type ObservedChunk,
  type RequestError,
  type RequestObservation,
  type ServerUsage,
} from "tokbench";
import { type CallLogRecord, type LlamaTimings, LOG_SCHEMA_VERSION } from "./CallLogRecord.js";

/** What kind of generated text an arrival carried. */
export type ArrivalKind = "text" | "thinking" | "tool_call";

/** What is known of a call when its request is about to go (`before_provider_request`). */
export interface CallStart {
  provider: string | null;
  model: string | null;
  api: string | null;
  /** `max_tokens`, `max_completion_tokens` or `max_output_tokens` of the payload; null when none. */
  max_tokens: number | null;
}

/** pi's token counts (`AssistantMessage.usage`): `input` excludes cache reads and writes. */
export interface PiUsage {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

/** What `message_end` says about the call. */
export interface CallEnd {
  /** pi's usage; all-zero counts mean the provider reported none. */
  usage: PiUsage | null;
  /** pi's stop reason: `stop`, `length`, `toolUse`, `error` or `aborted`. */
  stop_reason: string;
  /** pi's error message for `error` and `aborted`. */
  error_message: string | null;
}

/** Options of a {@link CallTracker}. */
export interface CallTrackerOptions {
  /** pi's session id. Required. */
  sessionId: string;
  /**
   * Highest believable decode rate of one stream, tok/s: a client rate above it is flagged
   * `impossible_decode_rate` and not reported. Null disables the check. Defaults to null.
   */
  decodeCeilingTps?: number | null;
  /**
   * Epoch time (ms) of the monotonic clock's zero, to date a call's start on the wall clock.
   * Defaults to `performance.timeOrigin`.
   */
  timeOrigin?: number;
  /**
   * The machine's monotonic clock (`process.hrtime`, ms) at the zero of `performance.now()`, to
   * place a call's start on a clock every local process shares. Defaults to the current process's.
   */
  monotonicOrigin?: number;
}

/** `process.hrtime` (ms) at `performance.now()`'s zero in this process. */
function processMonotonicOrigin(): number {
  return Number(process.hrtime.bigint()) / 1e6 - performance.now();
}

interface OpenCall {
  index: number;
  start: CallStart;
  startedAtMs: number;
  headersAtMs: number | null;
  status: number | null;
  chunks: ObservedChunk[];
  kinds: ArrivalKind[];
  /** The content block and read of the last arrival, to merge a tool call's name with its first arguments. */
  lastToolStart: { contentIndex: number; readIndex: number } | null;
  /** The tokbench provider's own observation of the exchange, when it made the call. */
  socket: RequestObservation | null;
  /** The kind of each of the socket observation's chunks. */
  socketKinds: ArrivalKind[];
}

/** Longest error message kept in a record, characters. */
const MESSAGE_CHARS = 200;

/**
 * Turns what pi's extension events say about each LLM call into a {@link CallLogRecord}, with
 * tokbench's metric definitions (`computeRequestMetrics`): the events become a
 * `RequestObservation` (token-bearing arrivals with the event-loop turn they came in as the read),
 * and every figure and flag is tokbench's. Calls are sequential in a pi session; a call that
 * starts while another is open ends the open one as `unfinished`.
 *
 * Pure bookkeeping: the caller stamps every event with `performance.now()` as it comes.
 */
export class CallTracker {
  private readonly options: CallTrackerOptions;
  private readonly timeOrigin: number;
  private readonly monotonicOrigin: number;
  private open: OpenCall | null = null;
  private calls = 0;

  constructor(options: CallTrackerOptions) {
    this.options = options;
    this.timeOrigin = options.timeOrigin ?? performance.timeOrigin;
    this.monotonicOrigin = options.monotonicOrigin ?? processMonotonicOrigin();
  }

  /** Whether a call is open. */
  get active(): boolean {
    return this.open !== null;
  }

  /**
   * A request is about to go. Returns the record of a call still open (it never ended), else null.
   */
  start(info: CallStart, atMs: number): CallLogRecord | null {
    const dangling = this.abandon(atMs);
    this.open = {
      index: this.calls++,
      start: info,
      startedAtMs: atMs,
      headersAtMs: null,
      status: null,
      chunks: [],
      kinds: [],
      lastToolStart: null,
      socket: null,
      socketKinds: [],
    };
    return dangling;
  }

  /** Response headers arrived. */
  response(status: number, atMs: number): void {
    const call = this.open;
    if (call === null || call.headersAtMs !== null) return;
    call.headersAtMs = atMs;
    call.status = status;
  }

  /**
   * One token-bearing arrival: a non-empty text, thinking or tool-call delta, or a tool call's
   * name (`toolStart`). `readIndex` identifies the event-loop turn it came in: arrivals of one turn
   * were read together, so their gaps say nothing about generation speed. A tool call's name and
   * its first arguments, read in the same turn, are one arrival (one chunk on the wire).
   */
  arrival(
    kind: ArrivalKind,
    chars: number,
    atMs: number,
    readIndex: number,
    toolCall?: { contentIndex: number; start: boolean },
  ): void {
    const call = this.open;
    if (call === null) return;
    const merge =
      toolCall !== undefined &&
      !toolCall.start &&
      call.lastToolStart !== null &&
      call.lastToolStart.contentIndex === toolCall.contentIndex &&
      call.lastToolStart.readIndex === readIndex;
    call.lastToolStart = toolCall?.start === true ? { contentIndex: toolCall.contentIndex, readIndex } : null;
    if (merge) {
      const last = call.chunks[call.chunks.length - 1];
      if (last !== undefined) last.chars += chars;
      return;
    }
    call.chunks.push({ at_ms: atMs, read_index: readIndex, tokens: null, chars });
    call.kinds.push(kind);
  }

  /**
   * The tokbench provider's observation of the exchange (socket-read timestamps, usage and
   * llama.cpp timings): when given, the record's figures come from it rather than from pi's events.
   */
  attachSocketObservation(observation: RequestObservation, kinds: readonly ArrivalKind[]): void {
    if (this.open === null) return;
    this.open.socket = observation;
    this.open.socketKinds = [...kinds];
  }

  /** The call ended (`message_end` of the assistant message). Null when no call was open. */
  end(end: CallEnd, atMs: number): CallLogRecord | null {
    const call = this.open;
    if (call === null) return null;
    this.open = null;
    return this.record(call, end, atMs);
  }

  /**
   * Ends an open call that will never see its `message_end` (the session ends, another call
   * starts): recorded with what is known, as `unfinished`. Null when no call was open.
   */
  abandon(atMs: number): CallLogRecord | null {
    const call = this.open;
    if (call === null) return null;
    this.open = null;
    return this.record(
      call,
      { usage: null, stop_reason: "unfinished", error_message: "the call never ended" },
      atMs,
    );
  }

  private record(call: OpenCall, end: CallEnd, atMs: number): CallLogRecord {
    const obs = call.socket ?? this.observation(call, end, atMs);
    const failed =
      end.stop_reason === "error" || end.stop_reason === "aborted" || end.stop_reason === "unfinished";
    if (failed && obs.error === null) obs.error = piError(call, end);
    const { record } = computeRequestMetrics(obs, {
      index: call.index,
      run_start_ms: call.startedAtMs,
      max_tokens: call.start.max_tokens,
      prompt_tokens_exact: true,
      decode_ceiling_tps: this.options.decodeCeilingTps ?? null,
      unique_from_token: null,
    });
    const t0 = call.startedAtMs;
    // Clock readings before the call's start cannot be (one clock); clamp so no duration is negative.
    const since = (at: number | null): number | null => (at === null ? null : Math.max(0, at - t0));
    const chunks = obs.chunks;
    const perChunk = allocateChunkTokens(chunks, record.output_tokens);
    const byKind = { text: 0, thinking: 0, tool_call: 0 };
    const kinds = call.socket === null ? call.kinds : call.socketKinds;
    for (let i = 0; i < perChunk.length; i++) byKind[kinds[i] ?? "text"] += perChunk[i] ?? 0;
    const firstTokens = perChunk[0] ?? 0;
    const cached = obs.usage?.cached_prompt_tokens ?? obs.server_timings?.cached_tokens ?? null;
    return {
      schema_version: LOG_SCHEMA_VERSION,
      session_id: this.options.sessionId,
      call_id: `${this.options.sessionId}:${call.index}`,
      call_index: call.index,
      started_at: new Date(this.timeOrigin + call.startedAtMs).toISOString(),
      started_at_ms: this.timeOrigin + call.startedAtMs,
      started_at_mono_ms: this.monotonicOrigin + call.startedAtMs,
      provider: call.start.provider,
      model: call.start.model,
      api: call.start.api,
      clock: call.socket === null ? "pi-events" : "socket",
      http_status: obs.status,
      stop_reason: end.stop_reason,
      max_tokens: call.start.max_tokens,
      ttft_ms: nonNegative(record.ttft_ms),
      prefill_tps: record.prefill_tps,
      decode_tps: record.decode_tps,
      decode_tps_source: record.decode_tps_source,
      decode_ms: nonNegative(record.decode_ms),
      tpot_ms: record.tpot_ms,
      e2e_ms: Math.max(0, record.e2e_ms),
      input_tokens: record.prompt_tokens === null ? null : Math.max(0, record.prompt_tokens - (cached ?? 0)),
      cached_tokens: cached,
      output_tokens: record.output_tokens,
      token_source: record.token_source,
      arrivals: chunks.length,
      arrival_reads: new Set(chunks.map((c) => c.read_index)).size,
      flags: record.flags,
      raw_timestamps: {
        request_sent: since(obs.sent_at_ms) ?? 0,
        response_headers: since(obs.headers_at_ms ?? call.headersAtMs),
        first_token: since(chunks[0]?.at_ms ?? null),
        last_token: since(chunks[chunks.length - 1]?.at_ms ?? null),
        end: since(obs.end_at_ms) ?? 0,
      },
      phase_tokens: {
        prefill: record.prompt_tokens === null ? null : Math.max(0, record.prompt_tokens - (cached ?? 0)),
        cached,
        first_arrival: firstTokens,
        decode: Math.max(0, record.output_tokens - firstTokens),
        by_kind: byKind,
      },
      server_timings: llamaTimings(obs, record.server_timings),
      error: record.error,
    };
  }

  /** The observation pi's events give: sent at the call's start, arrivals as stamped. */
  private observation(call: OpenCall, end: CallEnd, atMs: number): RequestObservation {
    return {
      planned_at_ms: call.startedAtMs,
      sent_at_ms: call.startedAtMs,
      headers_at_ms: call.headersAtMs,
      end_at_ms: Math.max(atMs, call.startedAtMs),
      status: call.status,
      chunks: call.chunks,
      empty_chunks: 0,
      comments: 0,
      usage: piUsage(end.usage),
      server_timings: null,
      prompt_tokens_client: null,
      output_tokens_tokenizer: null,
      error: null,
    };
  }
}

/**
 * pi's usage as tokbench's: prompt tokens are pi's `input` plus its cache reads and writes (pi
 * counts `input` without them). pi fills zeros when the provider sent no usage, so all-zero counts
 * are no usage at all.
 */
function piUsage(usage: PiUsage | null): ServerUsage | null {
  if (usage === null) return null;
  if (usage.input === 0 && usage.output === 0 && usage.cacheRead === 0 && usage.cacheWrite === 0) return null;
  return {
    prompt_tokens: usage.input + usage.cacheRead + usage.cacheWrite,
    completion_tokens: usage.output,
    cached_prompt_tokens: usage.cacheRead,
  };
}

/** The request error of a call that pi ended with an error, an abort, or never ended. */
function piError(call: OpenCall, end: CallEnd): RequestError {
  const message = oneLine(end.error_message ?? end.stop_reason);
  if (end.stop_reason === "aborted")
    return { code: "REQUEST_STREAM_CUT", message: `aborted: ${message}`, status: call.status };
  if (call.status !== null && call.status >= 400)
    return { code: "REQUEST_HTTP_ERROR", message, status: call.status };
  if (call.status === null && call.chunks.length === 0)
    return { code: "REQUEST_CONNECTION_FAILED", message, status: null };
  return { code: "REQUEST_STREAM_CUT", message, status: call.status };
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > MESSAGE_CHARS ? `${line.slice(0, MESSAGE_CHARS)}…` : line;
}

function nonNegative(value: number | null): number | null {
  return value === null ? null : Math.max(0, value);
}

function llamaTimings(
  obs: RequestObservation,
  normalised: { prefill_tps: number | null; decode_tps: number | null } | null,
): LlamaTimings | null {
  const t = obs.server_timings;
  if (t === null || normalised === null) return null;
  return {
    prompt_n: t.prompt_tokens,
    prompt_ms: t.prompt_ms,
    predicted_n: t.output_tokens,
    predicted_ms: t.decode_ms,
    cache_n: t.cached_tokens,
    draft_n: t.draft_tokens ?? null,
    draft_n_accepted: t.draft_accepted_tokens ?? null,
    prefill_tps: normalised.prefill_tps,
    decode_tps: normalised.decode_tps,
  };
}
