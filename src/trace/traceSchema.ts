import { z } from "zod";
import { TRACE_LEVELS, TRACE_SCHEMA_VERSION, type TraceEvent, type TraceLevel } from "./TraceEvent.js";

/**
 * The trace format as a schema (docs/trace.md is its prose): one strict object per event, so a
 * field the documentation does not name — tensor data above all — fails validation.
 */
const time = z.number().finite();
const nonNegative = z.number().finite().nonnegative();
const count = z.number().int().nonnegative();
const stepName = z.enum(["prefill_batch", "decode_step"]);
const part = z.enum(["input", "layer", "output"]);

const sessionStart = z
  .object({
    event: z.literal("session_start"),
    schema_version: z.literal(TRACE_SCHEMA_VERSION),
    t_ms: z.literal(0),
    level: z.enum(TRACE_LEVELS as [TraceLevel, ...TraceLevel[]]),
    started_at: z.string().datetime(),
    tool: z.object({ name: z.literal("tokbench"), version: z.string() }).strict(),
    model: z.record(z.unknown()),
    engine: z.record(z.unknown()),
    config: z.record(z.unknown()),
    observation: z.record(z.unknown()).optional(),
    tensors: z
      .array(z.object({ name: z.string(), type: z.string(), shape: z.array(count) }).strict())
      .optional(),
  })
  .strict();

const generationStart = z
  .object({
    event: z.literal("generation_start"),
    t_ms: time,
    id: z.string().min(1),
    sequence: count,
    prompt_tokens: count,
    max_tokens: count,
    n_depth: count,
    settings: z.record(z.unknown()),
    observed: z.boolean().optional(),
  })
  .strict();

const step = z
  .object({
    event: stepName,
    t_ms: time,
    id: z.string().min(1),
    index: count,
    tokens: count,
    t_start_ms: time,
    t_end_ms: time,
    duration_ms: nonNegative,
    token: count.nullable(),
  })
  .strict();

const layer = z
  .object({
    event: z.literal("layer"),
    t_ms: time,
    id: z.string().min(1),
    step: stepName,
    index: count,
    part,
    layer: count.nullable(),
    t_start_ms: time,
    t_end_ms: time,
    duration_ms: nonNegative,
  })
  .strict()
  .refine((e) => (e.part === "layer") === (e.layer !== null), 'layer is set exactly for part "layer"');

const tensor = z
  .object({
    event: z.literal("tensor"),
    t_ms: time,
    id: z.string().min(1),
    step: stepName,
    index: count,
    node: count,
    part,
    layer: count.nullable(),
    name: z.string(),
    op: z.string().min(1),
    type: z.string().min(1),
    shape: z.array(count).min(1).max(4),
    bytes: count,
    elements: count,
    inputs: z.array(z.string()).max(10),
  })
  .strict()
  .refine((e) => e.elements === e.shape.reduce((a, b) => a * b, 1), "elements is the product of shape");

const generationEnd = z
  .object({
    event: z.literal("generation_end"),
    t_ms: time,
    id: z.string().min(1),
    prompt_tokens: count,
    output_tokens: count,
    prefill_batches: count,
    ttft_ms: nonNegative.nullable(),
    decode_ms: nonNegative.nullable(),
    total_ms: nonNegative,
    engine: z
      .object({ prompt_ms: nonNegative, prompt_tokens: count, eval_ms: nonNegative, eval_runs: count })
      .strict()
      .nullable(),
    error: z.string().nullable(),
  })
  .strict();

const sessionEnd = z
  .object({
    event: z.literal("session_end"),
    t_ms: time,
    ended_at: z.string().datetime(),
    generations: count,
    status: z.enum(["completed", "failed", "interrupted"]),
  })
  .strict();

const BY_EVENT: Record<TraceEvent["event"], z.ZodTypeAny> = {
  session_start: sessionStart,
  generation_start: generationStart,
  prefill_batch: step,
  decode_step: step,
  layer,
  tensor,
  generation_end: generationEnd,
  session_end: sessionEnd,
};

/** The lowest level at which each event may appear. */
const MIN_LEVEL: Record<TraceEvent["event"], TraceLevel> = {
  session_start: "minimal",
  generation_start: "minimal",
  prefill_batch: "detailed",
  decode_step: "detailed",
  layer: "detailed",
  tensor: "verbose",
  generation_end: "minimal",
  session_end: "minimal",
};

/** One problem found in a trace, with its 1-based line number. */
export interface TraceProblem {
  line: number;
  message: string;
}

/**
 * Checks a trace (its NDJSON lines) against the schema: every line one known event with exactly
 * the documented fields, `session_start` first, events allowed at the trace's level only, every
 * generation's events between its start and end, and `session_end` last when present (a trace
 * without it was cut short, which is allowed). Returns the problems; none for a valid trace.
 */
export function validateTrace(text: string): TraceProblem[] {
  const problems: TraceProblem[] = [];
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  let level: TraceLevel | null = null;
  const open = new Set<string>();
  const closed = new Set<string>();
  let ended = false;
  lines.forEach((raw, i) => {
    const line = i + 1;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      problems.push({ line, message: "not JSON" });
      return;
    }
    const name = (value as { event?: unknown }).event;
    const schema = typeof name === "string" ? BY_EVENT[name as TraceEvent["event"]] : undefined;
    if (schema === undefined) {
      problems.push({ line, message: `unknown event ${JSON.stringify(name)}` });
      return;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      problems.push({
        line,
        message: `${String(name)}: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`.trim(),
      });
      return;
    }
    const event = parsed.data as TraceEvent;
    if (ended) problems.push({ line, message: "event after session_end" });
    if (i === 0) {
      if (event.event !== "session_start")
        problems.push({ line, message: "the first event must be session_start" });
      else level = event.level;
      return;
    }
    if (event.event === "session_start") {
      problems.push({ line, message: "a second session_start" });
      return;
    }
    if (level !== null && TRACE_LEVELS.indexOf(level) < TRACE_LEVELS.indexOf(MIN_LEVEL[event.event])) {
      problems.push({ line, message: `${event.event} at level ${level}` });
    }
    switch (event.event) {
      case "generation_start":
        if (open.has(event.id) || closed.has(event.id))
          problems.push({ line, message: `generation ${event.id} started twice` });
        open.add(event.id);
        break;
      case "generation_end":
        if (!open.delete(event.id))
          problems.push({ line, message: `generation_end of ${event.id}, which is not open` });
        closed.add(event.id);
        break;
      case "session_end":
        ended = true;
        break;
      default:
        if (!open.has(event.id))
          problems.push({ line, message: `${event.event} outside generation ${event.id}` });
    }
  });
  if (lines.length === 0) problems.push({ line: 0, message: "empty trace" });
  return problems;
}
