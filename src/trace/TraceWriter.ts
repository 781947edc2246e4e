import { closeSync, openSync, statSync, writeSync } from "node:fs";
import { TokbenchError } from "../errors/TokbenchError.js";
import type {
  GenerationEndEvent,
  GenerationStartEvent,
  SessionEndEvent,
  SessionStartEvent,
  StepPart,
  TraceEvent,
  TraceLevel,
} from "./TraceEvent.js";

/** What a step carries; the writer adds the event name, `t_ms` and `duration_ms`. */
export interface TraceStep {
  kind: "prefill" | "decode";
  index: number;
  tokens: number;
  /** `performance.now()` ms. */
  t_start_ms: number;
  t_end_ms: number;
  token: number | null;
}

/** The error of a trace file that cannot be written, with the system's reason (`ENOSPC: no space left on device`). */
function unwritable(path: string, cause: unknown): TokbenchError {
  const reason = (cause as Error).message;
  return new TokbenchError("FILE_UNWRITABLE", `cannot write trace file ${path}: ${reason}`, {
    cause,
    context: { path },
  });
}

/** A timed span of an observed step (`performance.now()` ms). */
export interface TraceSpan {
  part: StepPart;
  layer: number | null;
  t_start_ms: number;
  t_end_ms: number;
}

/** A graph node of an observed step, without data. */
export interface TraceGraphTensor {
  part: StepPart;
  layer: number | null;
  name: string;
  op: string;
  type: string;
  /** ggml `ne` (all four dimensions; the writer drops trailing 1s). */
  ne: readonly number[];
  bytes: number;
  inputs: readonly string[];
}

/** Identifies the step that spans and graph tensors belong to. */
export interface TraceStepRef {
  kind: "prefill" | "decode";
  index: number;
  /** `performance.now()` ms of the step's end. */
  t_end_ms: number;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const stepEventName = (kind: "prefill" | "decode") => (kind === "prefill" ? "prefill_batch" : "decode_step");

/**
 * Writes a generation trace as NDJSON (docs/trace.md). Events are buffered in memory and written
 * at generation boundaries, so recording a step on the hot path costs an object push, not a
 * system call. Times are ms relative to the session start, rounded to the microsecond.
 */
export class TraceWriter {
  readonly level: TraceLevel;
  private readonly path: string;
  private readonly fd: number;
  private readonly origin: number;
  private buffer: string[] = [];
  private generations = 0;
  private closed = false;

  private constructor(path: string, fd: number, level: TraceLevel, origin: number) {
    this.path = path;
    this.fd = fd;
    this.level = level;
    this.origin = origin;
  }

  /**
   * Creates the trace file, which must not exist as a regular file (a pipe or a device is written
   * to): `FILE_EXISTS` when it does, `FILE_UNWRITABLE` with
   * the system's reason (a missing folder, no permission, a read-only disk) when it cannot be created.
   */
  static open(path: string, level: TraceLevel): TraceWriter {
    try {
      // "wx": a trace never replaces a file (an earlier trace, or anything else under that name).
      // What exists but is not a regular file (a pipe, /dev/stdout) is written to as it is.
      let fd: number;
      try {
        fd = openSync(path, "wx");
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST" || statSync(path).isFile()) throw error;
        fd = openSync(path, "w");
      }
      return new TraceWriter(path, fd, level, performance.now());
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "EEXIST") {
        throw new TokbenchError(
          "FILE_EXISTS",
          `trace file ${path} already exists: remove it or name another`,
          {
            cause,
            context: { path },
          },
        );
      }
      throw unwritable(path, cause);
    }
  }

  /** Whether per-step events are recorded (detailed and verbose). */
  get recordsSteps(): boolean {
    return this.level !== "minimal";
  }

  /** Whether layer events are recorded (detailed and verbose). */
  get recordsLayers(): boolean {
    return this.level !== "minimal";
  }

  /** Whether graph tensor events are recorded (verbose). */
  get recordsGraphTensors(): boolean {
    return this.level === "verbose";
  }

  /** Converts a `performance.now()` time to trace time. */
  at(nowMs: number): number {
    return round3(nowMs - this.origin);
  }

  sessionStart(event: Omit<SessionStartEvent, "event" | "schema_version" | "t_ms" | "level">): void {
    const { tensors, observation, ...rest } = event;
    const line: SessionStartEvent = {
      event: "session_start",
      schema_version: 1,
      t_ms: 0,
      level: this.level,
      ...rest,
    };
    if (observation !== undefined) line.observation = observation;
    if (this.level === "verbose" && tensors !== undefined) line.tensors = tensors;
    this.push(line);
    this.flush();
  }

  generationStart(event: Omit<GenerationStartEvent, "event" | "t_ms">, nowMs = performance.now()): void {
    this.generations++;
    this.push({ event: "generation_start", t_ms: this.at(nowMs), ...event });
  }

  /** Records one engine call (ignored at the minimal level). */
  step(id: string, step: TraceStep): void {
    if (!this.recordsSteps) return;
    this.push({
      event: stepEventName(step.kind),
      t_ms: this.at(step.t_end_ms),
      id,
      index: step.index,
      tokens: step.tokens,
      t_start_ms: this.at(step.t_start_ms),
      t_end_ms: this.at(step.t_end_ms),
      duration_ms: round3(step.t_end_ms - step.t_start_ms),
      token: step.token,
    });
  }

  /** Records the layer spans of an observed step (detailed level and up). */
  layers(id: string, step: TraceStepRef, spans: readonly TraceSpan[]): void {
    if (!this.recordsLayers) return;
    for (const span of spans) {
      this.push({
        event: "layer",
        t_ms: this.at(span.t_end_ms),
        id,
        step: stepEventName(step.kind),
        index: step.index,
        part: span.part,
        layer: span.layer,
        t_start_ms: this.at(span.t_start_ms),
        t_end_ms: this.at(span.t_end_ms),
        duration_ms: round3(span.t_end_ms - span.t_start_ms),
      });
    }
  }

  /** Records the graph tensors of an observed step (verbose level). */
  graphTensors(id: string, step: TraceStepRef, tensors: readonly TraceGraphTensor[]): void {
    if (!this.recordsGraphTensors) return;
    const t = this.at(step.t_end_ms);
    tensors.forEach((tensor, node) => {
      let dims = tensor.ne.length;
      while (dims > 1 && tensor.ne[dims - 1] === 1) dims--;
      const shape = tensor.ne.slice(0, dims);
      this.push({
        event: "tensor",
        t_ms: t,
        id,
        step: stepEventName(step.kind),
        index: step.index,
        node,
        part: tensor.part,
        layer: tensor.layer,
        name: tensor.name,
        op: tensor.op,
        type: tensor.type,
        shape,
        bytes: tensor.bytes,
        elements: shape.reduce((a, b) => a * b, 1),
        inputs: [...tensor.inputs],
      });
    });
  }

  generationEnd(event: Omit<GenerationEndEvent, "event" | "t_ms">, nowMs = performance.now()): void {
    const rounded = {
      ...event,
      ttft_ms: event.ttft_ms === null ? null : round3(event.ttft_ms),
      decode_ms: event.decode_ms === null ? null : round3(event.decode_ms),
      total_ms: round3(event.total_ms),
    };
    this.push({ event: "generation_end", t_ms: this.at(nowMs), ...rounded });
    this.flush();
  }

  /** Writes the last event and closes the file. Safe to call twice. */
  sessionEnd(status: SessionEndEvent["status"]): void {
    if (this.closed) return;
    this.push({
      event: "session_end",
      t_ms: this.at(performance.now()),
      ended_at: new Date().toISOString(),
      generations: this.generations,
      status,
    });
    this.flush();
    closeSync(this.fd);
    this.closed = true;
  }

  private push(event: TraceEvent): void {
    if (this.closed) return;
    this.buffer.push(JSON.stringify(event));
  }

  /** Writes the buffered events. Throws `FILE_UNWRITABLE` with the system's reason (a full disk). */
  private flush(): void {
    if (this.closed || this.buffer.length === 0) return;
    try {
      writeSync(this.fd, `${this.buffer.join("\n")}\n`);
    } catch (cause) {
      throw unwritable(this.path, cause);
    }
    this.buffer = [];
  }
}
