import type { RequestObservation, ServerReportedTimings } from "../records/RequestObservation.js";

/**
 * The checks that decide whether what a server reports about a request can be true. A server's
 * `usage` and `timings` are taken over the client's own counts only when they pass: a count of
 * `1e12` tokens or `-3` tokens, a negative duration, or a rate no hardware reaches is flagged
 * (`usage_implausible`, `timings_implausible`) and the next source is used instead. The rules are
 * written in docs/metrics.md ("Server-reported figures").
 */

/**
 * Generated tokens a server may count beyond what the text shows: special tokens (end of turn,
 * `<think>` markers) are counted but not streamed.
 */
export const SPECIAL_TOKEN_ALLOWANCE = 16;

/**
 * Most tokens one UTF-16 character of text can take: a token is at least one byte of UTF-8, and a
 * UTF-16 unit is at most three bytes (byte-fallback tokenizers spell a CJK character in three tokens).
 */
export const MAX_TOKENS_PER_CHARACTER = 3;

/** Prompt tokens a server may add to the text tokbench sent: chat template, system prompt, tools. */
export const TEMPLATE_TOKEN_ALLOWANCE = 8192;

/**
 * A server-reported decode rate above this, for one request, is no measurement: no hardware decodes
 * one stream at a million tokens per second (the fastest serve a few thousand).
 */
export const MAX_SERVER_DECODE_TPS = 1_000_000;

/** As {@link MAX_SERVER_DECODE_TPS}, for prefill (prompt tokens over prompt milliseconds). */
export const MAX_SERVER_PREFILL_TPS = 100_000_000;

/** Slack on "the server cannot have worked longer than the client waited": clock reads, rounding. */
const DURATION_SLACK = { factor: 1.5, ms: 50 } as const;

/** Whether `value` can be a count of tokens: a finite, non-negative integer. */
export function isTokenCount(value: number | null | undefined): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Whether the server's `usage.completion_tokens` can be the number of tokens this request
 * generated, given what the client saw. False when absent, and when it is:
 * - not a finite, non-negative integer;
 * - above `max_tokens` when one was sent and the stream kept to it (no more token-bearing chunks
 *   than `max_tokens`, each of which carries at least one token);
 * - far from the token-bearing chunks: fewer than half of them (a token's text may be split over two
 *   chunks, never more), or, when the chunks' exact token counts are known (logprobs, the engine),
 *   off from their sum by more than half of it plus {@link SPECIAL_TOKEN_ALLOWANCE};
 * - when no `max_tokens` bounds it, more than {@link MAX_TOKENS_PER_CHARACTER} tokens per character
 *   of generated text plus {@link SPECIAL_TOKEN_ALLOWANCE}.
 *
 * @param maxTokens Output tokens the request asked for; null when it set no limit.
 */
export function plausibleOutputUsage(obs: RequestObservation, maxTokens: number | null): boolean {
  const reported = obs.usage?.completion_tokens ?? null;
  if (!isTokenCount(reported)) return false;
  const chunks = obs.chunks;
  let chars = 0;
  let exact: number | null = chunks.length > 0 ? 0 : null;
  for (const chunk of chunks) {
    chars += chunk.chars;
    exact = exact === null || chunk.tokens === null ? null : exact + chunk.tokens;
  }
  const honoured = maxTokens !== null && chunks.length <= maxTokens;
  if (honoured && reported > maxTokens) return false;
  if (exact !== null) return Math.abs(reported - exact) <= exact / 2 + SPECIAL_TOKEN_ALLOWANCE;
  if (reported * 2 < chunks.length) return false;
  return honoured || reported <= MAX_TOKENS_PER_CHARACTER * chars + SPECIAL_TOKEN_ALLOWANCE;
}

/**
 * Whether the server's `usage.prompt_tokens` can be the prompt's length: a finite, non-negative
 * integer, at least 1 for a non-empty prompt, and at most {@link MAX_TOKENS_PER_CHARACTER} tokens
 * per character of the prompt text plus {@link TEMPLATE_TOKEN_ALLOWANCE}. False when absent.
 *
 * @param promptChars Characters of the prompt text sent; null when unknown (then only the type is checked).
 */
export function plausiblePromptUsage(obs: RequestObservation, promptChars: number | null): boolean {
  const reported = obs.usage?.prompt_tokens ?? null;
  if (!isTokenCount(reported)) return false;
  if (promptChars === null) return true;
  if (promptChars > 0 && reported === 0) return false;
  return reported <= MAX_TOKENS_PER_CHARACTER * promptChars + TEMPLATE_TOKEN_ALLOWANCE;
}

/**
 * Whether the server's own timings of a request can be true: every count given is a finite,
 * non-negative integer, every duration a finite, non-negative number; together the durations fit in
 * the time the client waited for the whole request (`e2e_ms`, with slack for clocks and rounding);
 * and the rates they imply stay below {@link MAX_SERVER_DECODE_TPS} and {@link MAX_SERVER_PREFILL_TPS}.
 */
export function plausibleServerTimings(timings: ServerReportedTimings, e2eMs: number): boolean {
  for (const count of [timings.prompt_tokens, timings.output_tokens, timings.cached_tokens]) {
    if (count !== null && !isTokenCount(count)) return false;
  }
  let total = 0;
  for (const ms of [timings.prompt_ms, timings.decode_ms]) {
    if (ms === null) continue;
    if (!Number.isFinite(ms) || ms < 0) return false;
    total += ms;
  }
  if (total > e2eMs * DURATION_SLACK.factor + DURATION_SLACK.ms) return false;
  const tooFast = (tokens: number | null, ms: number | null, limit: number): boolean =>
    tokens !== null && ms !== null && ms > 0 && (tokens * 1000) / ms > limit;
  return (
    !tooFast(timings.output_tokens, timings.decode_ms, MAX_SERVER_DECODE_TPS) &&
    !tooFast(timings.prompt_tokens, timings.prompt_ms, MAX_SERVER_PREFILL_TPS)
  );
}
