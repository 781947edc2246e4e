import type { CellFigures, CellStatus, ReplicateResult } from "../results/SweepResult.js";
import { median } from "../stats/descriptive.js";

/** A cell's figures: each figure the median of the replicates' (nulls left out). */
export function medianFigures(replicates: readonly ReplicateResult[]): CellFigures | null {
  if (replicates.length === 0) return null;
  const first = replicates[0] as ReplicateResult;
  const out = {} as Record<keyof CellFigures, number | null>;
  for (const key of Object.keys(first.figures) as (keyof CellFigures)[]) {
    const values = replicates
      .map((r) => r.figures[key])
      .filter((v): v is number => typeof v === "number" && Number.isFinite(v));
    out[key] = values.length === 0 ? null : median(values);
  }
  return out as CellFigures;
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
