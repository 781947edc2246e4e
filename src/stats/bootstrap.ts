import { seededRandom } from "../workload/seededRandom.js";
import { quantile } from "./descriptive.js";

/** Options of {@link bootstrapRatioInterval}. */
export interface BootstrapOptions {
  /** Resamples drawn. Defaults to 2000. */
  iterations?: number;
  /** Coverage of the interval. Defaults to 0.95. */
  confidence?: number;
  /** Seed of the resampling, so a report shows the same interval every time. Defaults to 1. */
  seed?: number;
}

/**
 * Percentile bootstrap confidence interval of `statistic(current) / statistic(baseline)`: both
 * samples are resampled with replacement, independently, `iterations` times. Null when either
 * sample is empty or the baseline statistic is 0 in every resample.
 */
export function bootstrapRatioInterval(
  baseline: readonly number[],
  current: readonly number[],
  statistic: (values: readonly number[]) => number,
  options: BootstrapOptions = {},
): { low: number; high: number } | null {
  if (baseline.length === 0 || current.length === 0) return null;
  const iterations = options.iterations ?? 2000;
  const confidence = options.confidence ?? 0.95;
  const random = seededRandom(options.seed ?? 1);
  const draw = (sample: readonly number[], into: number[]): number[] => {
    for (let i = 0; i < sample.length; i++) into[i] = sample[Math.floor(random() * sample.length)] as number;
    return into;
  };
  const bx = new Array<number>(baseline.length);
  const by = new Array<number>(current.length);
  const ratios: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const denominator = statistic(draw(baseline, bx));
    const numerator = statistic(draw(current, by));
    if (denominator !== 0 && Number.isFinite(numerator / denominator)) ratios.push(numerator / denominator);
  }
  if (ratios.length === 0) return null;
  const alpha = (1 - confidence) / 2;
  return { low: quantile(ratios, alpha), high: quantile(ratios, 1 - alpha) };
}
