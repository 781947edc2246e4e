import { isTokenCount } from "../../metrics/serverReportChecks.js";
import type { ServerReportedTimings, ServerUsage } from "../../records/RequestObservation.js";

/** What one parsed chunk of an OpenAI-compatible stream carries. */
export interface OpenAiChunkInfo {
  /** Generated text: content, reasoning, tool-call names and arguments, completion text. */
  text: string;
  /** Exact tokens from `logprobs` when the server sent them, else null. */
  tokens: number | null;
  /** A choice carried a non-null `finish_reason`. */
  finished: boolean;
  usage: ServerUsage | null;
  /** llama.cpp's `timings` object, normalised. */
  timings: ServerReportedTimings | null;
  /** Message of an `error` object sent in the stream, else null. */
  error: string | null;
}

/**
 * Reads one JSON chunk of a `/v1/chat/completions` or `/v1/completions` stream (or a whole
 * non-streamed response, whose choices carry `message` instead of `delta`). Tolerant of every
 * field being absent or null: servers differ.
 */
export function readOpenAiChunk(value: unknown): OpenAiChunkInfo {
  const info: OpenAiChunkInfo = {
    text: "",
    tokens: null,
    finished: false,
    usage: null,
    timings: null,
    error: null,
  };
  if (!isObject(value)) return info;
  if (value.error !== undefined && value.error !== null) {
    info.error = errorMessage(value.error);
    return info;
  }
  const choices = value.choices;
  if (Array.isArray(choices)) {
    for (const choice of choices) {
      if (!isObject(choice)) continue;
      if (typeof choice.text === "string") info.text += choice.text;
      const delta = isObject(choice.delta) ? choice.delta : isObject(choice.message) ? choice.message : null;
      if (delta !== null) {
        if (typeof delta.content === "string") info.text += delta.content;
        if (typeof delta.reasoning_content === "string") info.text += delta.reasoning_content;
        else if (typeof delta.reasoning === "string") info.text += delta.reasoning;
        if (Array.isArray(delta.tool_calls)) {
          for (const call of delta.tool_calls) {
            const fn = isObject(call) && isObject(call.function) ? call.function : null;
            if (fn === null) continue;
            if (typeof fn.name === "string") info.text += fn.name;
            if (typeof fn.arguments === "string") info.text += fn.arguments;
          }
        }
      }
      const logprobs = choice.logprobs;
      if (isObject(logprobs)) {
        const list = Array.isArray(logprobs.content) ? logprobs.content : logprobs.tokens;
        if (Array.isArray(list)) info.tokens = (info.tokens ?? 0) + list.length;
      }
      if (choice.finish_reason !== undefined && choice.finish_reason !== null) info.finished = true;
    }
  }
  if (isObject(value.usage)) {
    const usage = value.usage;
    const details = isObject(usage.prompt_tokens_details) ? usage.prompt_tokens_details : null;
    info.usage = {
      prompt_tokens: reported(usage.prompt_tokens),
      completion_tokens: reported(usage.completion_tokens),
      cached_prompt_tokens: details === null ? null : reported(details.cached_tokens),
    };
  }
  if (isObject(value.timings)) {
    const t = value.timings;
    info.timings = {
      source: "llama.cpp",
      prompt_tokens: reported(t.prompt_n),
      prompt_ms: reported(t.prompt_ms),
      output_tokens: reported(t.predicted_n),
      decode_ms: reported(t.predicted_ms),
      decode_steps: decodeSteps(t.predicted_n),
      cached_tokens: reported(t.cache_n),
      load_ms: null,
    };
    // llama.cpp sends these only while speculative decoding is on. They only excuse bursts of
    // accepted drafts from the buffering check, so a count that cannot be true is dropped.
    if (t.draft_n !== undefined) {
      info.timings.draft_tokens = tokenCountOrNull(t.draft_n);
      info.timings.draft_accepted_tokens = tokenCountOrNull(t.draft_n_accepted);
    }
  }
  return info;
}

function errorMessage(error: unknown): string {
  if (typeof error === "string") return error;
  if (isObject(error) && typeof error.message === "string") return error.message;
  return JSON.stringify(error);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A number the server reported, as it reported it (negative, fractional or `1e999` = Infinity
 * included: the metrics judge it, see serverReportChecks); NaN when the field holds something that
 * is not a number; null when it is absent or null.
 */
function reported(value: unknown): number | null {
  if (value === undefined || value === null) return null;
  return typeof value === "number" ? value : Number.NaN;
}

function tokenCountOrNull(value: unknown): number | null {
  return typeof value === "number" && isTokenCount(value) ? value : null;
}

/**
 * llama.cpp's `predicted_ms` runs from the first generated token to the last: `predicted_n - 1`
 * decode steps (its `n_gen_steps`). Null when the count cannot be true (the metrics flag that).
 */
function decodeSteps(predictedN: unknown): number | null {
  return typeof predictedN === "number" && isTokenCount(predictedN) && predictedN >= 1
    ? predictedN - 1
    : null;
}
