/**
 * The step rate of a pure decode test (llama-bench's `tg`, one sequence): what `regress` judges a
 * decode row by, because it stays put when the machine is busy.
 *
 * Definition. Within a repetition of `n_gen` tokens, each decode step (one `llama_decode` of one
 * token plus the pick of the next) has a wall time; `decode_step_p10_ns` holds, per repetition, the
 * 10th percentile of those times (numpy's linear rule: for tg128's 127 steps, between the 13th and
 * 14th fastest). The repetition's **step rate** is `1e9 / decode_step_p10_ns` tokens/s, and a
 * run's step level is its fastest repetition's step rate.
 *
 * Why a low quantile of steps. Another process that takes the core, or a page fault, stretches the
 * steps it lands on, not the others: a repetition's mean rate (`samples_ts`) carries every such
 * stretch, while the fast tenth of its steps carries none unless nearly every step was disturbed.
 * Measured on the 2-core machine at load average 15 (bench/regressVerdicts.ts): the run-to-run
 * coefficient of variation of the step level was 1.2 %, against 9.3 % for the best load-corrected
 * repetition (`loadCorrectedRate.ts`) and 46 % for the mean of repetitions. It measures the engine's
 * speed per token when it runs, so it sees a slower kernel, a bigger model or a worse build exactly
 * as the mean does; what it does not see is a slowdown that only some steps pay (a periodic stall,
 * a collection pause): the mean rate and the request-level percentiles are the figures for that.
 *
 * Only for rows that carry the field: tg rows of one sequence measured with at least
 * {@link MIN_DECODE_STEPS} decode steps, recorded since this field exists.
 */

/** Fewest decode steps a repetition needs for its step quantile to be kept (the p10 of 8 steps is near the fastest). */
export const MIN_DECODE_STEPS = 8;

/** The fields of a test row this reads. */
export interface DecodeStepSamples {
  samples_ts?: unknown;
  decode_step_p10_ns?: unknown;
}

/**
 * Each repetition's step rate (tokens/s), in repetition order; empty when the row has no step
 * quantiles (another test, an older run) or not one per repetition.
 */
export function decodeStepRates(row: DecodeStepSamples): number[] {
  const steps = row.decode_step_p10_ns;
  const reps = Array.isArray(row.samples_ts) ? row.samples_ts.length : 0;
  if (!Array.isArray(steps) || steps.length === 0 || steps.length !== reps) return [];
  if (!steps.every((x) => typeof x === "number" && Number.isFinite(x) && x > 0)) return [];
  return (steps as number[]).map((ns) => 1e9 / ns);
}

/** The run's step level: its fastest repetition's step rate; null without step quantiles. */
export function bestDecodeStepRate(row: DecodeStepSamples): number | null {
  const rates = decodeStepRates(row);
  return rates.length === 0 ? null : Math.max(...rates);
}
