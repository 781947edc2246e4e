/** Version of the trace schema (docs/trace.md). Bumped on any incompatible change. */
export const TRACE_SCHEMA_VERSION = 1;

/**
 * How much a trace records: `minimal` the session and one summary per generation; `detailed` adds
 * one event per prefill batch and per decode step, and, in an observation run with `--layers`, one
 * event per layer of each observed step; `verbose` adds the model's tensor table and, in an
 * observation run, one event per graph tensor of each observed step (never tensor data).
 */
export type TraceLevel = "minimal" | "detailed" | "verbose";

export const TRACE_LEVELS: readonly TraceLevel[] = ["minimal", "detailed", "verbose"];

/** A tensor of the model, as the verbose trace lists it. */
export interface TraceTensor {
  name: string;
  /** ggml type name, e.g. `Q4_0`. */
  type: string;
  shape: number[];
}

/** First line of a trace. `t_ms` of every event counts from this one. */
export interface SessionStartEvent {
  event: "session_start";
  schema_version: typeof TRACE_SCHEMA_VERSION;
  t_ms: 0;
  level: TraceLevel;
  /** Wall-clock start, ISO 8601. */
  started_at: string;
  tool: { name: "tokbench"; version: string };
  model: Record<string, unknown>;
  engine: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Observation runs only: what is observed, and the native observer. */
  observation?: Record<string, unknown>;
  /** Verbose level only. */
  tensors?: TraceTensor[];
}

/** A generation starts: a benchmark repetition or a request. */
export interface GenerationStartEvent {
  event: "generation_start";
  t_ms: number;
  /** Unique within the session, e.g. `pp64/r0/s0` or `req12`. */
  id: string;
  /** Sequence (parallel stream) index in the context. */
  sequence: number;
  prompt_tokens: number;
  max_tokens: number;
  /** KV cells already filled before this generation (llama-bench depth). */
  n_depth: number;
  /** The grid point or request settings. */
  settings: Record<string, unknown>;
  /**
   * Observation runs only: true for an observed generation, false for its unobserved reference
   * (the same steps, timed without the observer, to measure what observing costs).
   */
  observed?: boolean;
}

/** One engine call: a prompt batch (`prefill_batch`) or a decode step (`decode_step`). Detailed level and up. */
export interface StepEvent {
  event: "prefill_batch" | "decode_step";
  t_ms: number;
  id: string;
  index: number;
  tokens: number;
  t_start_ms: number;
  t_end_ms: number;
  duration_ms: number;
  /** Token id produced by the call, if any. */
  token: number | null;
}

/** Which part of a step a span or a graph tensor belongs to. */
export type StepPart = "input" | "layer" | "output";

/**
 * The time one transformer layer (or the part before or after the layers) took inside an observed
 * step. Detailed level and up, observation runs with `--layers` only.
 */
export interface LayerEvent {
  event: "layer";
  /** Same as `t_end_ms`. */
  t_ms: number;
  /** The generation. */
  id: string;
  /** The step this span is part of, and its index (as in its `prefill_batch` / `decode_step` event). */
  step: StepEvent["event"];
  index: number;
  /** `input`: before the first layer (graph build, input upload, embedding); `output`: after the last. */
  part: StepPart;
  /** Layer index for `part: "layer"`, else null. */
  layer: number | null;
  t_start_ms: number;
  t_end_ms: number;
  duration_ms: number;
}

/**
 * A node of llama.cpp's compute graph in an observed step, as the scheduler was about to compute it.
 * Verbose level, observation runs only. Carries the node's description, never its data.
 */
export interface TensorEvent {
  event: "tensor";
  /** The step's end. */
  t_ms: number;
  id: string;
  step: StepEvent["event"];
  index: number;
  /** Position of the node in the step's graph (0-based, in computation order). */
  node: number;
  part: StepPart;
  layer: number | null;
  /** llama.cpp's node name, e.g. `attn_norm-3`, `ffn_moe_topk-7`, `result_output`. */
  name: string;
  /** ggml op, e.g. `MUL_MAT`, `MUL_MAT_ID`, `ROPE`, `VIEW`. */
  op: string;
  /** ggml type of the result, e.g. `f32`, `i32`. */
  type: string;
  /** Elements per dimension, innermost first (ggml's `ne`, trailing 1s dropped). */
  shape: number[];
  bytes: number;
  elements: number;
  /** Names of the node's inputs: weights (`blk.3.ffn_up_exps.weight`) and other nodes. */
  inputs: string[];
}

/** A generation ends, with its summary. */
export interface GenerationEndEvent {
  event: "generation_end";
  t_ms: number;
  id: string;
  prompt_tokens: number;
  output_tokens: number;
  prefill_batches: number;
  /** From the first prefill call to the first token. */
  ttft_ms: number | null;
  /** From the first token to the last. */
  decode_ms: number | null;
  total_ms: number;
  /** llama.cpp's own counters over this generation, when captured. */
  engine: { prompt_ms: number; prompt_tokens: number; eval_ms: number; eval_runs: number } | null;
  error: string | null;
}

/** Last line of a complete trace. */
export interface SessionEndEvent {
  event: "session_end";
  t_ms: number;
  ended_at: string;
  generations: number;
  status: "completed" | "failed" | "interrupted";
}

export type TraceEvent =
  | SessionStartEvent
  | GenerationStartEvent
  | StepEvent
  | LayerEvent
  | TensorEvent
  | GenerationEndEvent
  | SessionEndEvent;
