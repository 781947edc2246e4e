/**
 * The step rate of a pure decode test (llama-bench's `tg`, one sequence): what `regress` judges a
 * decode row by, because it stays put when the machine is busy.
 *
 * Definition. Within a repetition of `n_gen` tokens, each decode step (one `llama_decode` of one
 * token plus the pick of the next) has a wall time; `decode_step_p10_ns` holds, per repetition, the
 * 10th percentile of those times (numpy's linear rule: for tg128's 127 steps, between the 13th and
 * 14th fastest). The repetition's **step rate** is `1e9 / decode_step_p10_ns` tokens/s, and a
 * run's **step level** is the step rate of its fastest *steady* repetition: one whose median step
 * (`decode_step_p50_ns`) is at most 1.15 times its p10 step. A run with no steady repetition has no
 * step level (regress then cannot judge it: the machine was too busy in every repetition).
 *
 * Why a low quantile of steps. Another process that takes the core, or a page fault, stretches the
 * steps it lands on, not the others: a repetition's mean rate (`samples_ts`) carries every such
 * stretch, while the fast tenth of its steps carries none unless nearly every step was disturbed.
 * Measured on the 2-core machine at load average 9-11 (bench/regressVerdicts.ts, 24 runs of tg128
 * with 5 repetitions on an 8-layer tiny model): the run-to-run coefficient of variation of the step
 * level was 1.7 %, against 13.1 % for the best load-corrected repetition (`loadCorrectedRate.ts`)
 * and 30.2 % for the mean of repetitions; 22 of the 24 runs had a steady repetition. It measures
 * the engine's speed per token when it runs, so it sees a slower kernel, a bigger model or a worse
 * build exactly as the mean does; what it does not see is a slowdown that only some steps pay (a periodic stall,
 * a collection pause): the mean rate and the request-level percentiles are the figures for that.
 *
 * Only for rows that carry the field: tg rows of one sequence measured with at least
 * {@link MIN_DECODE_STEPS} decode steps, recorded since this field exists.
 */

/** Fewest decode steps a repetition needs for its step quantiles to be kept (the p10 of 8 steps is near the fastest). */
export const MIN_DECODE_STEPS = 8;

/**
 * A repetition ran steadily when its median step is at most this many times its p10 step: most of
 * its steps ran undisturbed, so its p10 step is the engine's. When nearly every step was stretched
 * (the process waited for a core at almost every hand-over between its threads), the p10 step is
 * stretched too and the median runs away from it.
 */
export const STEADY_MEDIAN_TO_P10 = 1.15;

/** The fields of a test row this reads. */
export interface DecodeStepSamples {
  samples_ts?: unknown;
  decode_step_p10_ns?: unknown;
  decode_step_p50_ns?: unknown;
}

const perRepetition = (v: unknown, reps: number): number[] | null =>
  Array.isArray(v) &&
  v.length === reps &&
  reps > 0 &&
  v.every((x) => typeof x === "number" && Number.isFinite(x) && x > 0)
    ? (v as number[])
    : null;

/** Whether the row has both step quantiles for every repetition. */
export function hasDecodeSteps(row: DecodeStepSamples): boolean {
  const reps = Array.isArray(row.samples_ts) ? row.samples_ts.length : 0;
  return (
    perRepetition(row.decode_step_p10_ns, reps) !== null &&
    perRepetition(row.decode_step_p50_ns, reps) !== null
  );
}

/**
 * The step rates (tokens/s) of the repetitions that ran steadily (see {@link STEADY_MEDIAN_TO_P10}),
 * in repetition order; empty when none did or the row has no step quantiles.
 */
export function decodeStepRates(row: DecodeStepSamples): number[] {
  if (!hasDecodeSteps(row)) return [];
  const p10 = row.decode_step_p10_ns as number[];
  const p50 = row.decode_step_p50_ns as number[];
  return p10.flatMap((ns, i) => ((p50[i] as number) <= STEADY_MEDIAN_TO_P10 * ns ? [1e9 / ns] : []));
}

/** The run's step level: its fastest steady repetition's step rate; null without one. */
export function bestDecodeStepRate(row: DecodeStepSamples): number | null {
  const rates = decodeStepRates(row);
  return rates.length === 0 ? null : Math.max(...rates);
}
