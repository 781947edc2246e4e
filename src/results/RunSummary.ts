import type { DistributionStats } from "./DistributionStats.js";
import type { TrustFlag } from "./RequestRecord.js";

/** Aggregate figures of a run, over the successful requests unless said otherwise. */
export interface RunSummary {
  requests: {
    total: number;
    succeeded: number;
    failed: number;
    /** Requests stopped in flight when the run was interrupted; not counted in `total`. */
    cancelled: number;
    /** Failed requests by error code. */
    errors_by_code: Record<string, number>;
  };
  ttft_ms: DistributionStats;
  e2e_ms: DistributionStats;
  /** Per-token inter-token latency: a k-token chunk contributes k samples of gap/k. */
  itl_ms: DistributionStats;
  /** Gaps between consecutive token-bearing chunk arrivals, whatever their token counts. */
  chunk_gap_ms: DistributionStats;
  tpot_ms: DistributionStats;
  decode_tps: DistributionStats;
  prefill_tps: DistributionStats;
  dispatch_lag_ms: DistributionStats;
  /** Output tokens of successful requests divided by the measured duration. */
  output_tokens_per_s: number | null;
  /** Successful requests divided by the measured duration. */
  requests_per_s: number | null;
  /** Prompt tokens processed per second over the measured duration. */
  input_tokens_per_s: number | null;
  /** From the first send to the last end, warmup excluded. */
  duration_ms: number;
  total_output_tokens: number;
  total_prompt_tokens: number;
  /** How many requests carry each trust flag. */
  flags: Partial<Record<TrustFlag, number>>;
  /** How many requests took their output-token count from each source. */
  token_sources: Record<string, number>;
  /** Server-reported rates, where the server reported them. */
  server_prefill_tps: DistributionStats;
  server_decode_tps: DistributionStats;
}
