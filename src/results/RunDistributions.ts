import type { RunSummary } from "./RunSummary.js";

/** The summary fields that are distributions, and so have a histogram. */
export const DISTRIBUTION_METRICS = [
  "ttft_ms",
  "itl_ms",
  "e2e_ms",
  "chunk_gap_ms",
  "tpot_ms",
  "decode_tps",
  "prefill_tps",
  "dispatch_lag_ms",
  "server_prefill_tps",
  "server_decode_tps",
] as const satisfies readonly (keyof RunSummary)[];

/** One of {@link DISTRIBUTION_METRICS}. */
export type DistributionMetric = (typeof DISTRIBUTION_METRICS)[number];

/**
 * A run's latency and rate distributions, whole: the HDR histograms the summary's percentiles were
 * read from, so pictures and comparisons can be made later from the database alone. Not part of the
 * `--json` result format (it would add kilobytes of base64 to every result); stored in the
 * `run_distributions` table.
 */
export interface RunDistributions {
  /** `hdr-v2-base64`: HdrHistogram's V2 compressed encoding (zlib), base64. */
  encoding: "hdr-v2-base64";
  /** Recorded values are the metric's values times this (1000: µs for ms, thousandths of a token/s). */
  value_scale: number;
  /** One histogram per metric that had samples. */
  histograms: Partial<Record<DistributionMetric, string>>;
}
