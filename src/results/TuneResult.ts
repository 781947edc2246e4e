/** A value of a knob: a number, a name or a switch. */
export type KnobValue = number | string | boolean;

/** How one measurement ended, as the replay format spells it. */
export type MeasurementStatus = "ok" | "oom" | "crash" | "timeout" | "error";

/**
 * One measurement (one replicate) of a configuration at the target workload: what a live run
 * produces and what one line of a replay file holds.
 */
export interface Measurement {
  status: MeasurementStatus;
  /** Whether this replicate passed the feasibility gate (no failed request, budgets met, ...). */
  feasible: boolean;
  /** Why it is not feasible, in one line; null when it is. */
  reason: string | null;
  output_tokens_per_s: number | null;
  ttft_p95_ms: number | null;
  itl_p95_ms: number | null;
  requests_per_s: number | null;
  goodput_rps: number | null;
  /** The stored run of a live measurement; null in replay. */
  run_id: string | null;
}

/**
 * Why a configuration was measured: `probe` (stage 1, a candidate model at the default knobs),
 * `baseline` (stage 2's first trial, the default knobs), `candidate` (the search), `anchor` (the
 * baseline measured again to see whether the machine drifted).
 */
export type TrialKind = "probe" | "baseline" | "candidate" | "anchor";

/** How a trial ended: every replicate passed the gate, one did not, or the configuration did not run. */
export type TrialStatus = "feasible" | "infeasible" | "failed";

/** One configuration measured with its replicates, as the tuner judged it. */
export interface TrialRecord {
  /** Position in the tune (0-based), stage 1 and stage 2 together. */
  index: number;
  stage: "fit" | "search";
  kind: TrialKind;
  configuration: Readonly<Record<string, KnobValue>>;
  replicates: Measurement[];
  status: TrialStatus;
  /** For `failed`: `oom`, `crash`, `timeout` or `error`; null otherwise. */
  failure: Exclude<MeasurementStatus, "ok"> | null;
  /** Why it is not feasible; null when it is. */
  reason: string | null;
  /** The objective's figure: the median over the replicates. Null when nothing was measured. */
  value: number | null;
  /** Median TTFT p95 over the replicates (the tie-breaker). */
  ttft_p95_ms: number | null;
  /** Relative sample standard deviation of the replicates' values (stddev / median); null for fewer than two. */
  spread: number | null;
  /** The baseline's value it is compared against (the latest measurement of the baseline); null before one. */
  reference: number | null;
  /** Wall time of the trial, in milliseconds. */
  elapsed_ms: number;
}
