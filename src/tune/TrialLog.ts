import { TokbenchError } from "../errors/TokbenchError.js";
import { median } from "../stats/descriptive.js";
import type { SweepBudgets } from "../sweep/SweepSpec.js";
import { type Configuration, configurationKey, type MeasureFn } from "./Measurement.js";
import { objectiveSpec, relativeGain, type TuneObjective } from "./objective.js";
import { judgeTrial, type Trial, type TrialKind } from "./Trial.js";

/** Why the tuner stopped measuring before it was done. */
export class TuneStop extends Error {
  constructor(readonly reason: "budget_exhausted" | "interrupted") {
    super(reason);
  }
}

/** Limits of a tune. */
export interface TuneLimits {
  /** Trials at most, stage 1 probes, baseline and drift anchors included. */
  max_trials: number;
  /** Measuring time at most (the sum of the trials' wall times), in ms; null for none. */
  time_budget_ms: number | null;
}

/** A drift anchor: the baseline measured again. */
export interface DriftPoint {
  /** Trial index of the anchor. */
  trial: number;
  /** The anchor's value over the first baseline's, minus one (0.12: 12 % higher). */
  drift: number;
}

/** What {@link TrialLog} needs. */
export interface TrialLogOptions {
  objective: TuneObjective;
  budgets: SweepBudgets;
  replicates: number;
  limits: TuneLimits;
  measure: MeasureFn;
  /**
   * The tie band, relative (0.03 = 3 %); null to take it from the noise seen in the replicates.
   * Defaults to null.
   */
  tie_band?: number | null;
  /** Trials of an earlier session of this tune (`--resume`): served in order instead of measured. Defaults to none. */
  stored?: readonly Trial[];
  /** Called after every trial (progress, storage). */
  onTrial?(trial: Trial, log: TrialLog): void;
  /** Ctrl-C: no new trial starts. */
  signal?: AbortSignal;
  /** Milliseconds, monotonic. Defaults to `performance.now`. */
  clock?: () => number;
}

/**
 * The record of a tune's measurements, shared by stage 1 (biggest fit) and stage 2 (the knob
 * search): it enforces the limits, measures (or serves stored trials on `--resume`, so nothing
 * stored is measured again), judges each trial, tracks the baseline reference and drift, the
 * noise band, and which trial is the best.
 */
export class TrialLog {
  readonly trials: Trial[] = [];
  readonly drift: DriftPoint[] = [];
  private readonly clock: () => number;
  private reference: number | null = null;
  private firstBaseline: number | null = null;
  /** The baseline configuration of stage 2, once it is known. */
  baselineKey: string | null = null;
  /** Trials taken from storage instead of measured (`--resume`). */
  resumed = 0;

  constructor(readonly options: TrialLogOptions) {
    this.clock = options.clock ?? (() => performance.now());
  }

  /** Trials used so far. */
  get used(): number {
    return this.trials.length;
  }

  /** Measuring time used so far (ms). */
  get elapsedMs(): number {
    return this.trials.reduce((sum, t) => sum + t.elapsed_ms, 0);
  }

  /** Whether another trial may start. */
  canMeasure(): boolean {
    const { max_trials, time_budget_ms } = this.options.limits;
    if (this.trials.length >= max_trials) return false;
    return time_budget_ms === null || this.elapsedMs < time_budget_ms;
  }

  /** The trial of a configuration already measured (the latest, anchors left out); undefined when none. */
  find(configuration: Configuration): Trial | undefined {
    const key = configurationKey(configuration);
    for (let i = this.trials.length - 1; i >= 0; i--) {
      const t = this.trials[i] as Trial;
      if (t.kind !== "anchor" && configurationKey(t.configuration) === key) return t;
    }
    return undefined;
  }

  /**
   * Measures a configuration (or takes the next stored trial when resuming) and records it.
   * @throws TuneStop when the budget is spent or the tune was interrupted.
   */
  async run(configuration: Configuration, kind: TrialKind, stage: Trial["stage"]): Promise<Trial> {
    if (this.options.signal?.aborted) throw new TuneStop("interrupted");
    const index = this.trials.length;
    const stored = this.options.stored?.[index];
    let trial: Trial;
    if (stored !== undefined) {
      // The search is deterministic: resumed, it asks for the stored trials in their order.
      if (
        configurationKey(stored.configuration) !== configurationKey(configuration) ||
        stored.kind !== kind
      ) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `cannot resume: stored trial ${index + 1} measured ${configurationKey(stored.configuration)} (${stored.kind}), this tokbench's search asks for ${configurationKey(configuration)} (${kind})`,
        );
      }
      trial = stored;
      this.resumed++;
    } else {
      if (!this.canMeasure()) throw new TuneStop("budget_exhausted");
      const start = this.clock();
      const measured = await this.options.measure(
        configuration,
        this.options.replicates,
        this.options.signal,
      );
      if (this.options.signal?.aborted) throw new TuneStop("interrupted");
      const judged = judgeTrial(measured, this.options.objective, this.options.budgets);
      trial = {
        index,
        stage,
        kind,
        configuration,
        ...judged,
        reference: this.reference,
        elapsed_ms: Math.max(0, this.clock() - start),
      };
    }
    if (kind === "baseline" || kind === "anchor") {
      this.baselineKey = configurationKey(configuration);
      if (kind === "baseline") this.baselineTrial = trial;
      if (trial.status === "feasible" && trial.value !== null) {
        if (kind === "baseline") {
          this.firstBaseline = trial.value;
          trial = { ...trial, reference: trial.value };
          this.baselineTrial = trial;
        } else if (this.firstBaseline !== null) {
          this.drift.push({ trial: index, drift: trial.value / this.firstBaseline - 1 });
        }
        this.reference = trial.value;
      }
    }
    this.trials.push(trial);
    this.options.onTrial?.(trial, this);
    return trial;
  }

  /**
   * A trial's score: its value relative to the baseline measured last before it (so a machine that
   * drifted does not favour what was measured when it was fast), oriented so that higher is better.
   * The baseline scores 1. Null when infeasible.
   */
  score(trial: Trial): number | null {
    if (trial.status !== "feasible" || trial.value === null) return null;
    const ref = trial.reference;
    if (ref === null || ref === 0) {
      return objectiveSpec(this.options.objective).higher_is_better ? trial.value : 1 / trial.value;
    }
    return 1 + relativeGain(trial.value, ref, this.options.objective);
  }

  /**
   * The band inside which two scores are a tie: `tie_band` when given, else the noise of a
   * difference between two medians of `replicates` measurements, from the replicates seen so far
   * (pooled relative standard deviation s of one measurement: s × √2 × 1.2533 / √n for n >= 3,
   * s × √2 / √n below, the standard error of a median and of a mean). 0 while no trial had two
   * replicates.
   */
  tieBand(stage: Trial["stage"] = "search"): number {
    if (this.options.tie_band !== null && this.options.tie_band !== undefined) return this.options.tie_band;
    const spreads = this.trials
      .filter((t) => t.stage === stage && t.status === "feasible" && t.spread !== null)
      .map((t) => t.spread as number);
    if (spreads.length === 0) return 0;
    const pooled = Math.sqrt(spreads.reduce((a, s) => a + s * s, 0) / spreads.length);
    const n = this.options.replicates;
    return pooled * Math.SQRT2 * ((n >= 3 ? 1.2533 : 1) / Math.sqrt(n));
  }

  /** The largest drift seen by the anchors, by magnitude (0 when none). */
  maxDrift(): number {
    return this.drift.reduce((m, d) => (Math.abs(d.drift) > Math.abs(m) ? d.drift : m), 0);
  }

  /**
   * Makes a trial measured earlier (stage 1's probe of the chosen model at the default knobs) the
   * baseline of stage 2, so it is not measured again.
   */
  adoptBaseline(trial: Trial): void {
    this.baselineKey = configurationKey(trial.configuration);
    this.baselineTrial = trial;
    if (trial.status === "feasible" && trial.value !== null) {
      this.firstBaseline = trial.value;
      this.reference = trial.value;
      const i = this.trials.indexOf(trial);
      const adopted = { ...trial, reference: trial.value };
      if (i !== -1) this.trials[i] = adopted;
      this.baselineTrial = adopted;
    }
  }

  /** The baseline trial of stage 2; null before it is measured. */
  baselineTrial: Trial | null = null;

  /**
   * The trials of stage 2 of a configuration, in order (anchors left out: they re-measure the
   * baseline for drift, not as a candidate). Several when the search measured it again to confirm
   * it.
   */
  trialsOf(configuration: Configuration): Trial[] {
    const key = configurationKey(configuration);
    return this.trials.filter(
      (t) =>
        t.kind !== "anchor" &&
        (t.stage === "search" || t === this.baselineTrial) &&
        configurationKey(t.configuration) === key,
    );
  }

  /**
   * A configuration's score over all its trials (see {@link score}): with one trial, that trial's
   * score; with several (re-measured to confirm it), the median of every replicate's figure
   * relative to its own trial's reference, so that the measurements are pooled and each is still
   * compared with the baseline measured closest before it. Null when any trial of it was not
   * feasible (feasibility is strict) or none exists. `replicates`: how many figures the score
   * pools; `ttft_p95_ms`: the median TTFT p95 of them.
   */
  pooled(
    configuration: Configuration,
  ): { score: number; replicates: number; ttft_p95_ms: number | null; trial: Trial } | null {
    const trials = this.trialsOf(configuration);
    const first = trials[0];
    if (first === undefined || trials.some((t) => this.score(t) === null)) return null;
    if (trials.length === 1)
      return {
        score: this.score(first) as number,
        replicates: Math.max(1, first.replicates.length),
        ttft_p95_ms: first.ttft_p95_ms,
        trial: first,
      };
    const higher = objectiveSpec(this.options.objective).higher_is_better;
    const field = objectiveSpec(this.options.objective).field;
    const relative: number[] = [];
    const ttfts: number[] = [];
    for (const t of trials) {
      for (const m of t.replicates) {
        const v = m[field];
        if (typeof v !== "number" || !Number.isFinite(v)) continue;
        const ref = t.reference;
        relative.push(
          ref === null || ref === 0 ? (higher ? v : 1 / v) : 1 + relativeGain(v, ref, this.options.objective),
        );
        if (typeof m.ttft_p95_ms === "number") ttfts.push(m.ttft_p95_ms);
      }
    }
    if (relative.length === 0) return null;
    return {
      score: median(relative),
      replicates: relative.length,
      ttft_p95_ms: ttfts.length === 0 ? null : median(ttfts),
      trial: trials[trials.length - 1] as Trial,
    };
  }

  /**
   * The tie band between two configurations measured with `a` and `b` replicates in all: the
   * band of two single trials ({@link tieBand}) scaled to the noise of a difference of medians of
   * `a` and `b` measurements (√(1/a + 1/b) against √(2/n)). A configuration re-measured to confirm
   * it is compared more finely; a given `--tie-band` is taken as it is.
   */
  bandBetween(a: number, b: number): number {
    const band = this.tieBand();
    if (this.options.tie_band !== null && this.options.tie_band !== undefined) return band;
    const n = Math.max(1, this.options.replicates);
    return band * Math.sqrt((1 / Math.max(1, a) + 1 / Math.max(1, b)) / (2 / n));
  }

  /**
   * The best trial of stage 2: among feasible configurations (scored over all their trials, see
   * {@link pooled}), those whose score is within the tie band of the top score's are a tie, and
   * the one with the lowest TTFT p95 among them wins (then the higher score, then the earlier
   * trial). The band narrows for configurations measured more than once ({@link bandBetween}).
   * The baseline's configuration scores 1 by definition (anchors re-measure it) and is feasible
   * only if every measurement of it was. The trial returned is the configuration's latest. Null
   * when none is feasible.
   */
  best(): Trial | null {
    const seen = new Set<string>();
    const feasible: {
      trial: Trial;
      score: number;
      replicates: number;
      ttft: number | null;
      first: number;
    }[] = [];
    for (const t of this.trials) {
      if (t.stage !== "search" && t !== this.baselineTrial) continue;
      if (t.kind === "anchor") continue;
      const key = configurationKey(t.configuration);
      if (seen.has(key)) continue;
      seen.add(key);
      if (key === this.baselineKey) {
        const base = this.baselineTrial;
        if (base === null || this.score(base) === null) continue;
        if (this.trials.some((x) => configurationKey(x.configuration) === key && this.score(x) === null))
          continue;
        feasible.push({
          trial: base,
          score: 1,
          replicates: Math.max(1, base.replicates.length),
          ttft: base.ttft_p95_ms,
          first: t.index,
        });
        continue;
      }
      const p = this.pooled(t.configuration);
      if (p !== null)
        feasible.push({
          trial: p.trial,
          score: p.score,
          replicates: p.replicates,
          ttft: p.ttft_p95_ms,
          first: t.index,
        });
    }
    if (feasible.length === 0) return null;
    const top = feasible.reduce((a, b) => (b.score > a.score ? b : a));
    const tied = feasible.filter(
      (f) => f.score >= top.score / (1 + this.bandBetween(top.replicates, f.replicates)),
    );
    tied.sort(
      (a, b) => (a.ttft ?? Infinity) - (b.ttft ?? Infinity) || b.score - a.score || a.first - b.first,
    );
    return (tied[0] as { trial: Trial }).trial;
  }

  /** The score of a configuration for the search's moves (the baseline scores 1; several trials pooled, see {@link pooled}); null when infeasible or unmeasured. */
  configurationScore(configuration: Configuration): number | null {
    const key = configurationKey(configuration);
    if (key === this.baselineKey) {
      const t = this.baselineTrial;
      return t === null || this.score(t) === null ? null : 1;
    }
    return this.pooled(configuration)?.score ?? null;
  }
}
