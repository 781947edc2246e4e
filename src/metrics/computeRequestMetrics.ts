import type { RequestObservation, ServerReportedTimings } from "../records/RequestObservation.js";
import {
  type RequestRecord,
  type ServerTimingsRecord,
  type TokenSource,
  TRUST_FLAGS,
  type TrustFlag,
} from "../results/RequestRecord.js";
import { sanitizeText } from "../text/sanitizeText.js";
import { allocateChunkTokens } from "./allocateChunkTokens.js";
import {
  isTokenCount,
  plausibleOutputUsage,
  plausiblePromptUsage,
  plausibleServerTimings,
} from "./serverReportChecks.js";

/** Context the definitions need beyond the observation itself. */
export interface RequestMetricsContext {
  /** Position of the request in the run. */
  index: number;
  /** Run clock origin (`performance.now()` ms) that offsets are measured from. */
  run_start_ms: number;
  /** Output tokens requested; used for `short_output`. Null when no limit was asked. */
  max_tokens: number | null;
  /** Whether the client's prompt-token count came from the target's own tokenizer. */
  prompt_tokens_exact: boolean;
  /**
   * Highest physically possible decode rate for one stream (tok/s), from the roofline; a client
   * rate above it is flagged `impossible_decode_rate` and not reported. Null when unknown.
   */
  decode_ceiling_tps: number | null;
  /** The request's `unique_from_token` (see WorkloadRequest); null when its prompt may be shared. */
  unique_from_token?: number | null;
  /**
   * Characters of the prompt text sent, which bound how many prompt tokens a server may report
   * (see `plausiblePromptUsage`); null when unknown. Defaults to null.
   */
  prompt_chars?: number | null;
}

/** One inter-token latency observation: `count` tokens each `gap_ms` apart. */
export interface InterTokenSample {
  gap_ms: number;
  count: number;
}

/** A request's record plus the per-token samples the run summary aggregates (kept out of the record). */
export interface RequestMetrics {
  record: RequestRecord;
  /** Per-token inter-token latency samples; empty when the stream was buffered. */
  itl: InterTokenSample[];
  /** Gaps between consecutive token-bearing chunk arrivals. */
  chunk_gaps_ms: number[];
}

/** Client and server decode rates further apart than this fraction are flagged `timing_mismatch`. */
export const TIMING_MISMATCH_TOLERANCE = 0.2;

/**
 * When at least this fraction of the tokens after the first arrived in the same socket read as the
 * chunk before them, the stream was delivered in bursts (a buffering proxy, a server flushing late):
 * gaps between those chunks are zero by construction, so the client cannot know the decode rate.
 */
export const BUFFERED_TOKEN_FRACTION = 0.5;

const rate = (tokens: number | null, ms: number | null): number | null =>
  tokens !== null && ms !== null && ms > 0 && tokens > 0 ? (tokens * 1000) / ms : null;

const finite = (x: number | null): number | null => (x !== null && Number.isFinite(x) ? x : null);

/**
 * Normalises server-reported timings and derives their rates. Timings that cannot be true
 * (`plausible` false) keep their finite raw figures, for the record, but give no rate.
 */
export function normaliseServerTimings(
  t: ServerReportedTimings | null,
  plausible = true,
): ServerTimingsRecord | null {
  if (t === null) return null;
  return {
    source: t.source,
    prompt_tokens: finite(t.prompt_tokens),
    prompt_ms: finite(t.prompt_ms),
    prefill_tps: plausible ? rate(t.prompt_tokens, t.prompt_ms) : null,
    output_tokens: finite(t.output_tokens),
    decode_ms: finite(t.decode_ms),
    decode_tps: plausible
      ? rate(t.decode_steps === undefined ? t.output_tokens : t.decode_steps, t.decode_ms)
      : null,
    cached_tokens: finite(t.cached_tokens),
  };
}

/**
 * Applies tokbench's metric definitions (docs/metrics.md) to one observed request.
 *
 * - TTFT: arrival of the first chunk carrying a generated token, minus send time.
 * - E2E: end of stream minus send time.
 * - Output tokens: `usage.completion_tokens`, else a tokenizer count, else exact per-chunk counts
 *   from the engine, else the number of token-bearing chunks (flagged `chunk_count_estimate`). A
 *   server count that cannot be true is flagged `usage_implausible` and skipped (serverReportChecks).
 * - Decode: tokens after the first chunk, over the time from the first to the last token-bearing chunk.
 *   Only output tokens count: a draft model's proposals (speculative decoding) are verification
 *   work, and the accepted ones are already among the output tokens.
 * - ITL: each chunk after the first contributes k samples of gap/k, k its token count.
 * - Prefill: uncached prompt tokens (prompt tokens − those the server reports served from its
 *   prefix cache) / TTFT.
 */
export function computeRequestMetrics(obs: RequestObservation, ctx: RequestMetricsContext): RequestMetrics {
  const chunks = obs.chunks;
  const first = chunks[0];
  const last = chunks[chunks.length - 1];
  const flags: TrustFlag[] = [];

  let outputTokens: number;
  let tokenSource: TokenSource;
  const allExact = chunks.length > 0 && chunks.every((c) => c.tokens !== null);
  const usageOutputPlausible = plausibleOutputUsage(obs, ctx.max_tokens);
  const usagePromptPlausible = plausiblePromptUsage(obs, ctx.prompt_chars ?? null);
  if (
    (obs.usage?.completion_tokens != null && !usageOutputPlausible) ||
    (obs.usage?.prompt_tokens != null && !usagePromptPlausible)
  ) {
    flags.push("usage_implausible");
  }
  const e2eMs = obs.end_at_ms - obs.sent_at_ms;
  const timingsPlausible = obs.server_timings === null || plausibleServerTimings(obs.server_timings, e2eMs);
  if (!timingsPlausible) flags.push("timings_implausible");
  if (usageOutputPlausible) {
    outputTokens = obs.usage?.completion_tokens as number;
    tokenSource = "usage";
  } else if (isTokenCount(obs.output_tokens_tokenizer)) {
    outputTokens = obs.output_tokens_tokenizer;
    tokenSource = "tokenizer";
  } else if (allExact) {
    outputTokens = chunks.reduce((sum, c) => sum + (c.tokens ?? 0), 0);
    tokenSource = "engine";
  } else {
    outputTokens = chunks.length;
    tokenSource = "chunks";
    if (chunks.length > 0) flags.push("chunk_count_estimate");
  }

  const perChunk = allocateChunkTokens(chunks, outputTokens);
  const firstChunkTokens = perChunk[0] ?? 0;

  // Burst detection: tokens whose chunk completed in the same read as the previous chunk.
  let tokensAfterFirst = 0;
  let coalescedTokens = 0;
  const itl: InterTokenSample[] = [];
  const chunkGaps: number[] = [];
  for (let i = 1; i < chunks.length; i++) {
    const c = chunks[i] as (typeof chunks)[number];
    const prev = chunks[i - 1] as (typeof chunks)[number];
    const k = perChunk[i] ?? 1;
    const gap = c.at_ms - prev.at_ms;
    tokensAfterFirst += k;
    if (c.read_index === prev.read_index) coalescedTokens += k;
    chunkGaps.push(gap);
    if (k > 0) itl.push({ gap_ms: gap / k, count: k });
  }
  // With speculative decoding, the drafts a verification step accepted are sent with that step's
  // own token, in one burst: that many coalesced tokens are generation structure, not buffering.
  const expectedCoalesced = Math.min(coalescedTokens, obs.server_timings?.draft_accepted_tokens ?? 0);
  const unexpectedCoalesced = coalescedTokens - expectedCoalesced;
  const burstBase = tokensAfterFirst - expectedCoalesced;
  const buffered =
    (burstBase > 0 && unexpectedCoalesced / burstBase >= BUFFERED_TOKEN_FRACTION) ||
    (chunks.length === 1 && outputTokens >= 2);
  if (buffered) flags.push("buffered_stream");

  const decodeTokens = Math.max(0, outputTokens - firstChunkTokens);
  const decodeMs =
    first !== undefined && last !== undefined && chunks.length >= 2 ? last.at_ms - first.at_ms : null;
  const serverTimings = normaliseServerTimings(obs.server_timings, timingsPlausible);

  const aboveCeiling = (tps: number | null): boolean =>
    tps !== null && ctx.decode_ceiling_tps !== null && tps > ctx.decode_ceiling_tps;
  let clientDecodeTps = buffered ? null : rate(decodeTokens, decodeMs);
  if (aboveCeiling(clientDecodeTps)) {
    flags.push("impossible_decode_rate");
    clientDecodeTps = null;
  }
  // The server's own rate is held to the same ceiling: it is reported, and may stand in for ours.
  if (serverTimings !== null && aboveCeiling(serverTimings.decode_tps)) {
    if (!flags.includes("impossible_decode_rate")) flags.push("impossible_decode_rate");
    serverTimings.decode_tps = null;
  }
  const serverDecodeTps = serverTimings?.decode_tps ?? null;
  if (
    clientDecodeTps !== null &&
    serverDecodeTps !== null &&
    Math.abs(clientDecodeTps / serverDecodeTps - 1) > TIMING_MISMATCH_TOLERANCE
  ) {
    flags.push("timing_mismatch");
  }
  // A client rate that cannot be known is replaced by the server's own figure where it gave one.
  const decodeTps =
    clientDecodeTps ?? (buffered || flags.includes("impossible_decode_rate") ? serverDecodeTps : null);

  const ttft = first !== undefined ? first.at_ms - obs.sent_at_ms : null;
  const serverPromptTokens = usagePromptPlausible
    ? (obs.usage?.prompt_tokens as number)
    : timingsPlausible && isTokenCount(obs.server_timings?.prompt_tokens)
      ? (obs.server_timings?.prompt_tokens as number)
      : null;
  const promptTokens = serverPromptTokens ?? obs.prompt_tokens_client ?? null;
  if (serverPromptTokens === null && !ctx.prompt_tokens_exact && promptTokens !== null) {
    flags.push("approximate_prompt_length");
  }

  if (obs.error === null && ctx.max_tokens !== null && outputTokens < ctx.max_tokens)
    flags.push("short_output");
  if (obs.leaked_stop_token != null) flags.push("stop_token_leak");
  const usageCached = obs.usage?.cached_prompt_tokens;
  const timingsCached = timingsPlausible ? obs.server_timings?.cached_tokens : null;
  const cached = isTokenCount(usageCached) ? usageCached : isTokenCount(timingsCached) ? timingsCached : null;
  if (cached !== null && cached > sharedPromptStart(obs, promptTokens, ctx)) flags.push("prefix_cache_hit");
  // Prompt tokens the server had to compute before the first token: those it served from its
  // prefix cache cost no prefill time.
  const prefillTokens = promptTokens === null ? null : Math.max(0, promptTokens - (cached ?? 0));

  const record: RequestRecord = {
    index: ctx.index,
    planned_offset_ms: obs.planned_at_ms - ctx.run_start_ms,
    sent_offset_ms: obs.sent_at_ms - ctx.run_start_ms,
    dispatch_lag_ms: obs.sent_at_ms - obs.planned_at_ms,
    status: obs.status,
    ttft_ms: ttft,
    e2e_ms: e2eMs,
    decode_ms: decodeMs,
    prompt_tokens: promptTokens,
    output_tokens: outputTokens,
    token_source: tokenSource,
    chunks: chunks.length,
    decode_tps: decodeTps,
    decode_tps_source: decodeTps === null ? null : decodeTps === clientDecodeTps ? "client" : "server",
    tpot_ms: buffered || decodeMs === null || decodeTokens === 0 ? null : decodeMs / decodeTokens,
    prefill_tps: rate(prefillTokens, ttft),
    // One order for every record (the declaration order of TRUST_FLAGS), whatever order the checks ran in.
    flags: flags.sort((a, b) => TRUST_FLAGS.indexOf(a) - TRUST_FLAGS.indexOf(b)),
    // Error messages quote server replies: every record leaves here without control characters.
    error: obs.error === null ? null : { ...obs.error, message: sanitizeText(obs.error.message) },
    server_timings: serverTimings,
  };
  return { record, itl: buffered ? [] : itl, chunk_gaps_ms: chunkGaps };
}

/**
 * Prompt tokens a server may serve from its cache without the workload's uniqueness being
 * defeated: the chat template's tokens (server's prompt count − the client's count of the content)
 * plus the content before the unique prefix. Zero when either count is unknown, so then any cached
 * token counts as a hit.
 */
function sharedPromptStart(
  obs: RequestObservation,
  promptTokens: number | null,
  ctx: RequestMetricsContext,
): number {
  const uniqueFrom = ctx.unique_from_token ?? null;
  if (uniqueFrom === null || promptTokens === null || obs.prompt_tokens_client === null) return 0;
  return Math.max(0, promptTokens - obs.prompt_tokens_client) + uniqueFrom;
}
