import type { CellFigures, CellPercentiles, CellStatus, ReplicateResult } from "../results/SweepResult.js";
import { median } from "../stats/descriptive.js";

/** A cell's figures: each figure the median of the replicates' (nulls left out). */
export function medianFigures(replicates: readonly ReplicateResult[]): CellFigures | null {
  if (replicates.length === 0) return null;
  const med = (pick: (f: CellFigures) => number | null): number | null => {
    const values = replicates
      .map((r) => pick(r.figures))
      .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    return values.length === 0 ? null : median(values);
  };
  const pct = (pick: (f: CellFigures) => CellPercentiles): CellPercentiles => ({
    p50: med((f) => pick(f).p50),
    p95: med((f) => pick(f).p95),
    p99: med((f) => pick(f).p99),
  });
  return {
    ttft_ms: pct((f) => f.ttft_ms),
    itl_ms: pct((f) => f.itl_ms),
    e2e_ms: pct((f) => f.e2e_ms),
    output_tokens_per_s: med((f) => f.output_tokens_per_s),
    requests_per_s: med((f) => f.requests_per_s),
    goodput_rps: med((f) => f.goodput_rps),
    goodput_share: med((f) => f.goodput_share),
    requests: med((f) => f.requests) ?? 0,
    failed: med((f) => f.failed) ?? 0,
  };
}

/**
 * A measured cell's status from its replicates: `failed` when any replicate had failed requests or
 * stopped early, else `infeasible` when any failed the gate, else `feasible`. A cell is feasible
 * only if every replicate is.
 */
export function statusFromReplicates(replicates: readonly ReplicateResult[]): {
  status: CellStatus;
  reason: string | null;
} {
  const label = (r: ReplicateResult) => (replicates.length > 1 ? `replicate ${r.replicate + 1}: ` : "");
  const failed = replicates.find((r) => r.errors);
  if (failed !== undefined)
    return { status: "failed", reason: `${label(failed)}${failed.reason ?? "requests failed"}` };
  const infeasible = replicates.find((r) => !r.feasible);
  if (infeasible !== undefined)
    return { status: "infeasible", reason: `${label(infeasible)}${infeasible.reason}` };
  return { status: "feasible", reason: null };
}
