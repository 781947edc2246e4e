import type { AxisValue } from "../search/Axis.js";
import type { Configuration } from "./Measurement.js";

/** One axis as the model sees it: `ordinal` values are in their order (neighbours are alike). */
export interface ModelAxis {
  name: string;
  values: readonly AxisValue[];
  ordinal: boolean;
}

/** Prior scales of {@link fitAdditiveModel}, on the log of the score. */
export interface AdditivePrior {
  /** Standard deviation of one value's effect on an unordered axis, and of an ordered axis's first value. */
  effect: number;
  /** Standard deviation of the change from one value of an ordered axis to the next. */
  step: number;
  /** Standard deviation of the noise of one trial's figure (log scale). */
  noise: number;
}

/** A fitted model: the predicted log score of a configuration and its standard deviation. */
export interface AdditiveModel {
  predict(configuration: Configuration): { mean: number; sd: number };
}

/**
 * Bayesian linear regression of the log score on the knobs, one additive effect per axis value:
 * log score = intercept + Σ effect(axis, value) + noise. Why this model: knob effects on serving
 * speed are mostly separate (a larger micro-batch helps whatever the cache type), and a model that
 * adds them pools every measurement into the estimate of each effect, so a trial informs the
 * estimates of every configuration that shares one of its values, where a walk only compares two
 * neighbours at a time and each comparison carries the full noise of two trials. On an ordered axis
 * the effects follow a random walk (the next value's effect is the previous one's plus a change of
 * scale `step`), so a value never measured is predicted from its neighbours, with an uncertainty
 * that grows with the distance to measured ones: context 8192 is expected to behave like 4096 more
 * than like 65536. The posterior is exact (Gaussian prior, Gaussian noise): a p x p system where p
 * is the number of axis values plus one, tiny for any knob space.
 */
export function fitAdditiveModel(
  axes: readonly ModelAxis[],
  observations: readonly { configuration: Configuration; logScore: number }[],
  prior: AdditivePrior,
): AdditiveModel {
  // Parameters: the intercept, then per axis one per value. On an ordered axis parameter j is the
  // change from value j-1 to j (j = 0: the first value's effect), so value j's effect is the sum of
  // parameters 0..j; on an unordered axis parameter j is value j's effect.
  const offsets: number[] = [];
  let p = 1;
  for (const axis of axes) {
    offsets.push(p);
    p += axis.values.length;
  }
  const priorVar = new Float64Array(p);
  priorVar[0] = 1; // the intercept: scores are relative to the baseline, so near 0 in log
  for (const [a, axis] of axes.entries()) {
    const o = offsets[a] as number;
    for (let j = 0; j < axis.values.length; j++)
      priorVar[o + j] = axis.ordinal && j > 0 ? prior.step ** 2 : prior.effect ** 2;
  }
  const features = (configuration: Configuration): Float64Array => {
    const x = new Float64Array(p);
    x[0] = 1;
    for (const [a, axis] of axes.entries()) {
      const at = axis.values.indexOf(configuration[axis.name] as AxisValue);
      if (at === -1) continue;
      const o = offsets[a] as number;
      if (axis.ordinal) for (let j = 0; j <= at; j++) x[o + j] = 1;
      else x[o + at] = 1;
    }
    return x;
  };
  // Precision matrix A = Xᵀ X / σ² + Λ⁻¹ and b = Xᵀ y / σ².
  const A = new Float64Array(p * p);
  const b = new Float64Array(p);
  const noise2 = prior.noise ** 2;
  for (let i = 0; i < p; i++) A[i * p + i] = 1 / (priorVar[i] as number);
  for (const o of observations) {
    const x = features(o.configuration);
    for (let i = 0; i < p; i++) {
      const xi = x[i] as number;
      if (xi === 0) continue;
      b[i] = (b[i] as number) + (xi * o.logScore) / noise2;
      for (let j = 0; j < p; j++) A[i * p + j] = (A[i * p + j] as number) + (xi * (x[j] as number)) / noise2;
    }
  }
  const L = cholesky(A, p);
  const mean = solveCholesky(L, p, b);
  return {
    predict(configuration) {
      const x = features(configuration);
      let m = 0;
      for (let i = 0; i < p; i++) m += (x[i] as number) * (mean[i] as number);
      // Variance xᵀ A⁻¹ x = |L⁻¹ x|².
      const z = forward(L, p, x);
      let v = 0;
      for (let i = 0; i < p; i++) v += (z[i] as number) ** 2;
      return { mean: m, sd: Math.sqrt(v) };
    },
  };
}

/** Lower-triangular L with L Lᵀ = A (A symmetric positive definite, row-major p x p). */
function cholesky(A: Float64Array, p: number): Float64Array {
  const L = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * p + j] as number;
      for (let k = 0; k < j; k++) s -= (L[i * p + k] as number) * (L[j * p + k] as number);
      L[i * p + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / (L[j * p + j] as number);
    }
  }
  return L;
}

/** z with L z = x. */
function forward(L: Float64Array, p: number, x: Float64Array): Float64Array {
  const z = new Float64Array(p);
  for (let i = 0; i < p; i++) {
    let s = x[i] as number;
    for (let k = 0; k < i; k++) s -= (L[i * p + k] as number) * (z[k] as number);
    z[i] = s / (L[i * p + i] as number);
  }
  return z;
}

/** x with L Lᵀ x = b. */
function solveCholesky(L: Float64Array, p: number, b: Float64Array): Float64Array {
  const z = forward(L, p, b);
  const x = new Float64Array(p);
  for (let i = p - 1; i >= 0; i--) {
    let s = z[i] as number;
    for (let k = i + 1; k < p; k++) s -= (L[k * p + i] as number) * (x[k] as number);
    x[i] = s / (L[i * p + i] as number);
  }
  return x;
}

/** Expected improvement over `incumbent` of a normal prediction (mean, sd). */
export function expectedImprovement(mean: number, sd: number, incumbent: number): number {
  if (sd <= 1e-12) return Math.max(0, mean - incumbent);
  const z = (mean - incumbent) / sd;
  return (mean - incumbent) * normalCdf(z) + sd * normalPdf(z);
}

function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Φ(z) by the Abramowitz-Stegun 7.1.26 erf approximation (error < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496735) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}
