import type { DistributionMetric } from "../results/RunDistributions.js";
import { HistogramBuckets } from "../stats/HistogramBuckets.js";
import type { RunHistory, StoredRunHeader } from "../storage/RunHistory.js";

/** A stored run with what comparing it needs: its header (summary, tests, machine) and its distributions. */
export interface ComparableRun {
  run: StoredRunHeader;
  /** Decoded histograms by metric; empty for runs without stored distributions. */
  distributions: Map<DistributionMetric, HistogramBuckets>;
}

/** Reads a run and decodes its distributions. @throws TokbenchError `RUN_NOT_FOUND`. */
export async function loadComparableRun(history: RunHistory, runId: string): Promise<ComparableRun> {
  const run = await history.readRun(runId);
  const stored = await history.distributions(runId);
  const distributions = new Map<DistributionMetric, HistogramBuckets>();
  if (stored !== null) {
    for (const [metric, encoded] of Object.entries(stored.histograms)) {
      distributions.set(metric as DistributionMetric, HistogramBuckets.decode(encoded, stored.value_scale));
    }
  }
  return { run, distributions };
}
