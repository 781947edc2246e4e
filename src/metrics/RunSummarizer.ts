import type { RequestRecord, TrustFlag } from "../results/RequestRecord.js";
import type { DistributionMetric, RunDistributions } from "../results/RunDistributions.js";
import type { RunSummary } from "../results/RunSummary.js";
import { HISTOGRAM_SCALE, StatsAccumulator } from "../stats/StatsAccumulator.js";
import type { RequestMetrics } from "./computeRequestMetrics.js";

/**
 * Folds finished requests into the run summary as they arrive, in constant memory: per-request
 * figures and per-token samples go into histograms, nothing is kept per request.
 *
 * Distributions are over successful requests only; dispatch lag is over every recorded request,
 * because it measures the harness, not the server.
 */
export class RunSummarizer {
  private total = 0;
  private failed = 0;
  private cancelled = 0;
  private readonly errorsByCode: Record<string, number> = {};
  private readonly flags: Partial<Record<TrustFlag, number>> = {};
  private readonly tokenSources: Record<string, number> = {};
  private outputTokens = 0;
  private promptTokens = 0;
  private firstSentMs = Number.POSITIVE_INFINITY;
  private lastEndMs = Number.NEGATIVE_INFINITY;
  private readonly ttft = new StatsAccumulator();
  private readonly e2e = new StatsAccumulator();
  private readonly itl = new StatsAccumulator();
  private readonly chunkGap = new StatsAccumulator();
  private readonly tpot = new StatsAccumulator();
  private readonly decode = new StatsAccumulator();
  private readonly prefill = new StatsAccumulator();
  private readonly lag = new StatsAccumulator();
  private readonly serverPrefill = new StatsAccumulator();
  private readonly serverDecode = new StatsAccumulator();

  /** Adds one finished request. */
  add(metrics: RequestMetrics): void {
    const r: RequestRecord = metrics.record;
    this.total++;
    this.lag.add(r.dispatch_lag_ms);
    this.firstSentMs = Math.min(this.firstSentMs, r.sent_offset_ms);
    this.lastEndMs = Math.max(this.lastEndMs, r.sent_offset_ms + r.e2e_ms);
    if (r.error !== null) {
      this.failed++;
      this.errorsByCode[r.error.code] = (this.errorsByCode[r.error.code] ?? 0) + 1;
      return;
    }
    for (const f of r.flags) this.flags[f] = (this.flags[f] ?? 0) + 1;
    this.tokenSources[r.token_source] = (this.tokenSources[r.token_source] ?? 0) + 1;
    this.outputTokens += r.output_tokens;
    this.promptTokens += r.prompt_tokens ?? 0;
    if (r.ttft_ms !== null) this.ttft.add(r.ttft_ms);
    this.e2e.add(r.e2e_ms);
    if (r.tpot_ms !== null) this.tpot.add(r.tpot_ms);
    if (r.decode_tps !== null) this.decode.add(r.decode_tps);
    if (r.prefill_tps !== null) this.prefill.add(r.prefill_tps);
    if (r.server_timings?.prefill_tps != null) this.serverPrefill.add(r.server_timings.prefill_tps);
    if (r.server_timings?.decode_tps != null) this.serverDecode.add(r.server_timings.decode_tps);
    for (const s of metrics.itl) this.itl.addMany(s.gap_ms, s.count);
    for (const g of metrics.chunk_gaps_ms) this.chunkGap.add(g);
  }

  /** Counts a request that was stopped by the run ending (SIGINT): not a server failure, not recorded. */
  addCancelled(): void {
    this.cancelled++;
  }

  /** The histograms behind the summary's distributions, encoded (see {@link RunDistributions}). */
  distributions(): RunDistributions {
    const all: Record<DistributionMetric, StatsAccumulator> = {
      ttft_ms: this.ttft,
      itl_ms: this.itl,
      e2e_ms: this.e2e,
      chunk_gap_ms: this.chunkGap,
      tpot_ms: this.tpot,
      decode_tps: this.decode,
      prefill_tps: this.prefill,
      dispatch_lag_ms: this.lag,
      server_prefill_tps: this.serverPrefill,
      server_decode_tps: this.serverDecode,
    };
    const histograms: RunDistributions["histograms"] = {};
    for (const [metric, accumulator] of Object.entries(all) as [DistributionMetric, StatsAccumulator][]) {
      const encoded = accumulator.encodedHistogram();
      if (encoded !== null) histograms[metric] = encoded;
    }
    return { encoding: "hdr-v2-base64", value_scale: HISTOGRAM_SCALE, histograms };
  }

  /** The summary of everything added so far. */
  summary(): RunSummary {
    const succeeded = this.total - this.failed;
    const durationMs = this.total > 0 ? this.lastEndMs - this.firstSentMs : 0;
    const perSecond = (n: number): number | null => (durationMs > 0 ? (n * 1000) / durationMs : null);
    return {
      requests: {
        total: this.total,
        succeeded,
        failed: this.failed,
        cancelled: this.cancelled,
        errors_by_code: { ...this.errorsByCode },
      },
      ttft_ms: this.ttft.stats(),
      e2e_ms: this.e2e.stats(),
      itl_ms: this.itl.stats(),
      chunk_gap_ms: this.chunkGap.stats(),
      tpot_ms: this.tpot.stats(),
      decode_tps: this.decode.stats(),
      prefill_tps: this.prefill.stats(),
      dispatch_lag_ms: this.lag.stats(),
      output_tokens_per_s: perSecond(this.outputTokens),
      requests_per_s: perSecond(succeeded),
      input_tokens_per_s: perSecond(this.promptTokens),
      duration_ms: durationMs,
      total_output_tokens: this.outputTokens,
      total_prompt_tokens: this.promptTokens,
      flags: { ...this.flags },
      token_sources: { ...this.tokenSources },
      server_prefill_tps: this.serverPrefill.stats(),
      server_decode_tps: this.serverDecode.stats(),
    };
  }
}
