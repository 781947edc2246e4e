import { performance } from "node:perf_hooks";
import type { RequestObservation } from "tokbench";
import type { CallLogRecord } from "./CallLogRecord.js";
import { type ArrivalKind, type CallStart, CallTracker, type PiUsage } from "./CallTracker.js";
import { isObject } from "./isObject.js";
import { MetricsLog } from "./MetricsLog.js";
import { ReadClock } from "./ReadClock.js";

/** The parts of pi's `assistantMessageEvent` (in `message_update`) the recorder reads. */
export interface PiStreamEvent {
  type: string;
  contentIndex?: number;
  delta?: string;
  partial?: { content: readonly { type: string; name?: string }[] };
}

/** The parts of a finished pi message (in `message_end`) the recorder reads. */
export interface PiMessage {
  role: string;
  usage?: PiUsage;
  stopReason?: string;
  errorMessage?: string;
}

/** The parts of pi's current model the recorder reads. */
export interface PiModelInfo {
  provider: string;
  id: string;
  api: string;
}

/** Options of a {@link PiCallRecorder}. */
export interface PiCallRecorderOptions {
  /** pi's session id. Required. */
  sessionId: string;
  /** The session's working directory: the log is `<cwd>/.pi/llm-metrics.log`. Null writes no log. Required. */
  cwd: string | null;
  /** See {@link CallTracker}. Defaults to null (no ceiling). */
  decodeCeilingTps?: number | null;
  /** Called with every finished record, after it was logged. Defaults to none. */
  onRecord?(record: CallLogRecord): void;
  /** Called when the log cannot be written; the record is kept in memory. Defaults to none. */
  onLogError?(error: unknown, path: string): void;
  /** Numbers the event-loop turns events arrive in. Defaults to a new {@link ReadClock}. */
  readClock?: { current(): number };
}

/**
 * What the extension does with pi's events, without pi: every handler stamps the time first and
 * hands the event to a {@link CallTracker}; finished calls are logged and kept for `/llm-metrics`.
 * Event shapes are those of pi-coding-agent 0.73 (`@mariozechner/pi-ai`'s AssistantMessageEvent).
 */
export class PiCallRecorder {
  /** The session's finished calls, in order. */
  readonly records: CallLogRecord[] = [];
  readonly log: MetricsLog | null;
  private readonly tracker: CallTracker;
  private readonly options: PiCallRecorderOptions;
  private readonly reads: { current(): number };

  constructor(options: PiCallRecorderOptions) {
    this.options = options;
    this.tracker = new CallTracker({
      sessionId: options.sessionId,
      decodeCeilingTps: options.decodeCeilingTps ?? null,
    });
    this.log = options.cwd === null ? null : new MetricsLog(options.cwd);
    this.reads = options.readClock ?? new ReadClock();
  }

  /** `before_provider_request`: the payload is about to go. */
  beforeProviderRequest(payload: unknown, model: PiModelInfo | undefined, atMs = performance.now()): void {
    const p = isObject(payload) ? payload : {};
    const start: CallStart = {
      provider: model?.provider ?? null,
      model: typeof p.model === "string" ? p.model : (model?.id ?? null),
      api: model?.api ?? null,
      max_tokens: maxTokens(p),
    };
    this.keep(this.tracker.start(start, atMs));
  }

  /** `after_provider_response`. */
  afterProviderResponse(status: number, atMs = performance.now()): void {
    this.tracker.response(status, atMs);
  }

  /** `message_update`: token-bearing deltas are arrivals; the rest (starts, ends) carry no token. */
  messageUpdate(event: PiStreamEvent, atMs = performance.now()): void {
    if (!this.tracker.active) return;
    switch (event.type) {
      case "text_delta":
        this.delta("text", event, atMs);
        break;
      case "thinking_delta":
        this.delta("thinking", event, atMs);
        break;
      case "toolcall_delta":
        this.delta("tool_call", event, atMs);
        break;
      case "toolcall_start": {
        const index = event.contentIndex ?? -1;
        const block = event.partial?.content[index];
        const name = block?.type === "toolCall" ? (block.name ?? "") : "";
        // A tool call's name is generated text; an empty start is not.
        if (name.length > 0)
          this.tracker.arrival("tool_call", name.length, atMs, this.reads.current(), {
            contentIndex: index,
            start: true,
          });
        break;
      }
    }
  }

  /** `message_end`: an assistant message ends the open call. */
  messageEnd(message: PiMessage, atMs = performance.now()): void {
    if (message.role !== "assistant") return;
    this.keep(
      this.tracker.end(
        {
          usage: message.usage ?? null,
          stop_reason: message.stopReason ?? "stop",
          error_message: message.errorMessage ?? null,
        },
        atMs,
      ),
    );
  }

  /** The tokbench provider's observation of the open call (see {@link CallTracker.attachSocketObservation}). */
  attachSocketObservation(observation: RequestObservation, kinds: readonly ArrivalKind[]): void {
    this.tracker.attachSocketObservation(observation, kinds);
  }

  /** Records a call left open (the agent or the session stopped) with what is known. */
  abandon(atMs = performance.now()): void {
    this.keep(this.tracker.abandon(atMs));
  }

  private delta(kind: ArrivalKind, event: PiStreamEvent, atMs: number): void {
    const length = event.delta?.length ?? 0;
    if (length === 0) return;
    const toolCall =
      kind === "tool_call" ? { contentIndex: event.contentIndex ?? -1, start: false } : undefined;
    this.tracker.arrival(kind, length, atMs, this.reads.current(), toolCall);
  }

  private keep(record: CallLogRecord | null): void {
    if (record === null) return;
    this.records.push(record);
    if (this.log !== null) {
      try {
        this.log.append(record);
      } catch (error) {
        this.options.onLogError?.(error, this.log.path);
      }
    }
    this.options.onRecord?.(record);
  }
}

/**
 * For `--llm-metrics-include-usage`: an OpenAI chat-completions streaming payload that does not ask
 * for the usage chunk, with `stream_options.include_usage` added; undefined (pi keeps the payload
 * as it is) for any other payload.
 */
export function withUsageRequested(payload: unknown): Record<string, unknown> | undefined {
  if (!isObject(payload) || payload.stream !== true || !Array.isArray(payload.messages)) return undefined;
  const options = isObject(payload.stream_options) ? payload.stream_options : {};
  if (options.include_usage === true) return undefined;
  return { ...payload, stream_options: { ...options, include_usage: true } };
}

/** The output-token limit of a payload, whatever the API calls it; null when none. */
function maxTokens(payload: Record<string, unknown>): number | null {
  for (const key of ["max_tokens", "max_completion_tokens", "max_output_tokens"]) {
    const value = payload[key];
    if (typeof value === "number" && Number.isFinite(value)) return value;
  }
  return null;
}
