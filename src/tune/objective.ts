import type { Measurement } from "./Measurement.js";

/**
 * What the tuner optimises:
 * - `throughput`: output tokens per second at the target workload (higher is better);
 * - `latency`: TTFT p95 at the target workload (lower is better);
 * - `goodput`: requests per second that met every budget (higher is better).
 * Budgets (`--max-ttft-p95-ms`, `--max-itl-p95-ms`) are constraints of every objective.
 */
export type TuneObjective = "throughput" | "latency" | "goodput";

export const TUNE_OBJECTIVES: readonly TuneObjective[] = ["throughput", "latency", "goodput"];

/** The figure an objective reads, its unit and direction. */
export function objectiveSpec(objective: TuneObjective): {
  field: "output_tokens_per_s" | "ttft_p95_ms" | "goodput_rps";
  unit: string;
  higher_is_better: boolean;
} {
  switch (objective) {
    case "throughput":
      return { field: "output_tokens_per_s", unit: "tok/s", higher_is_better: true };
    case "latency":
      return { field: "ttft_p95_ms", unit: "ms TTFT p95", higher_is_better: false };
    case "goodput":
      return { field: "goodput_rps", unit: "req/s", higher_is_better: true };
  }
}

/** A measurement's figure for the objective; null when it has none. */
export function measurementValue(m: Measurement, objective: TuneObjective): number | null {
  const v = m[objectiveSpec(objective).field];
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/**
 * How much better `a` is than `b` for the objective, as a ratio minus one: 0.05 means 5 % better
 * (5 % more tokens per second, or a TTFT 1/1.05 as long). Negative when worse.
 */
export function relativeGain(a: number, b: number, objective: TuneObjective): number {
  if (objectiveSpec(objective).higher_is_better) return b === 0 ? (a > 0 ? Infinity : 0) : a / b - 1;
  return a === 0 ? (b > 0 ? Infinity : 0) : b / a - 1;
}
