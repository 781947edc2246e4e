import type { Axis, AxisValue } from "../search/Axis.js";
import { productSize } from "../search/cartesianProduct.js";
import type { FitCheck } from "../servers/checkMemoryFit.js";
import type { SweepBudgets } from "../sweep/SweepSpec.js";
import { type Configuration, configurationKey, type MeasureFn } from "./Measurement.js";
import { relativeGain, type TuneObjective } from "./objective.js";
import { type SearchEnd, type SearchStrategy, searchKnobs } from "./searchKnobs.js";
import type { Trial } from "./Trial.js";
import { type DriftPoint, TrialLog, type TuneLimits, TuneStop } from "./TrialLog.js";

/** How a tune ended (the recipe's `exit_reason`). */
export type TuneExitReason =
  | "found"
  | "no_feasible_candidate"
  | "budget_exhausted"
  | "interrupted"
  | "config_error"
  | "server_failed";

/** The search settings of a tune (part of the recipe's inputs). */
export interface TuneSettings {
  objective: TuneObjective;
  budgets: SweepBudgets;
  /** Measurements per trial: the median is the figure, feasible only if every one is. */
  replicates: number;
  limits: TuneLimits;
  /** Relative tie band (0.03 = 3 %); null to take it from the replicates' noise. */
  tie_band: number | null;
  strategy: SearchStrategy;
  /** Re-measure the baseline after this many trials; 0 never. */
  anchor_every: number;
  seed: number;
  /**
   * Trials kept at the end of the budget to measure the configurations tied with the best again
   * (see searchKnobs.ts). Defaults to {@link DEFAULT_CONFIRM}.
   */
  confirm?: number;
}

/** Trials kept to confirm close contenders, by default (chosen with bench/tuneReplay.ts, see docs/tune.md). */
export const DEFAULT_CONFIRM = 1;

/** Inputs of {@link runTune}. */
export interface TuneInput {
  /** The knob axes, without the model. */
  axes: readonly Axis[];
  /**
   * Candidate models for stage 1 in the order that is the contract (the first feasible wins);
   * one value or none skips stage 1. Each is the `model` knob of its configurations.
   */
  candidates: readonly AxisValue[];
  /** The default knobs (without the model). */
  baseline: Configuration;
  settings: TuneSettings;
  measure: MeasureFn;
  /** Memory pre-check of a configuration; null when it cannot be estimated. Defaults to none. */
  checkFit?(configuration: Configuration): Promise<FitCheck | null> | FitCheck | null;
  /** Trials of an earlier session (`--resume`). */
  stored?: readonly Trial[];
  onTrial?(trial: Trial, log: TrialLog): void;
  /** Called when stage 1 rejects or chooses a candidate. */
  onCandidate?(model: AxisValue, verdict: "wont_fit" | "infeasible" | "chosen", reason: string | null): void;
  signal?: AbortSignal;
  clock?: () => number;
}

/** A candidate model stage 1 did not choose. */
export interface RejectedCandidate {
  model: AxisValue;
  /** `wont_fit`: the memory pre-check (not measured); `infeasible`: its probe at the default knobs failed. */
  verdict: "wont_fit" | "infeasible";
  reason: string;
}

/** What a tune found. */
export interface TuneOutcome {
  exit_reason: TuneExitReason;
  /** One line on why, for anything but `found`; null otherwise. */
  exit_detail: string | null;
  trials: Trial[];
  /** Stage 1's choice; null when there was no model axis. */
  chosen_model: AxisValue | null;
  rejected: RejectedCandidate[];
  /** Candidates never measured because an earlier one was chosen. */
  not_measured: AxisValue[];
  baseline: Trial | null;
  best: Trial | null;
  /**
   * The best's gain over the baseline for the objective (0.2 = 20 % better): its value over the
   * baseline measured last before it (the first baseline, or an anchor); null without both.
   */
  gain: number | null;
  /**
   * The latest measurement of the baseline by a drift anchor (the last feasible one); null when no
   * anchor measured it. When the machine drifted (see {@link DRIFT_WARNING}) a gain taken against
   * an earlier baseline mixes the knobs' effect with the drift.
   */
  latest_baseline: Trial | null;
  /**
   * The best's value over the latest baseline's ({@link latest_baseline}), as a gain (0 when the
   * best is the baseline's configuration); null without an anchor.
   */
  gain_vs_latest_baseline: number | null;
  /** Whether the largest drift exceeds {@link DRIFT_WARNING} (the gains are then to be read with care). */
  drift_warning: boolean;
  tie_band: number;
  drift: DriftPoint[];
  /** The largest drift by magnitude; above 0.1 the machine changed under the tune. */
  max_drift: number;
  search_end: SearchEnd | null;
  /** Knob configurations of the chosen model (the grid a full sweep would measure). */
  grid_size: number;
  /** Distinct configurations stage 2 measured. */
  configurations_measured: number;
  /** Trials served from storage (`--resume`). */
  resumed: number;
}

/** Drift above this (relative, either way) is reported: the machine changed under the tune. */
export const DRIFT_WARNING = 0.1;

/**
 * A whole tune. Stage 1 (biggest fit): the candidates in their order; a memory pre-check rejects
 * what cannot fit, unmeasured; each remaining one is probed at the default knobs and the first
 * feasible is chosen: the ones after it are never measured. Stage 2: the knob search on the chosen
 * model from the default configuration (stage 1's probe of it is the baseline). Measures only
 * through `measure`, so a replay and a live server run the same tune.
 */
export async function runTune(input: TuneInput): Promise<TuneOutcome> {
  const { settings } = input;
  const log = new TrialLog({
    objective: settings.objective,
    budgets: settings.budgets,
    replicates: settings.replicates,
    limits: settings.limits,
    tie_band: settings.tie_band,
    measure: input.measure,
    ...(input.stored === undefined ? {} : { stored: input.stored }),
    ...(input.onTrial === undefined ? {} : { onTrial: input.onTrial }),
    ...(input.signal === undefined ? {} : { signal: input.signal }),
    ...(input.clock === undefined ? {} : { clock: input.clock }),
  });
  const gridSize = productSize(input.axes);
  const rejected: RejectedCandidate[] = [];
  let chosen: AxisValue | null = input.candidates.length === 1 ? (input.candidates[0] as AxisValue) : null;
  const notMeasured: AxisValue[] = [];
  const withModel = (model: AxisValue | null): Configuration =>
    model === null ? input.baseline : { ...input.baseline, model };

  const finish = (exit: TuneExitReason, detail: string | null, searchEnd: SearchEnd | null): TuneOutcome => {
    const best = searchEnd === null ? null : log.best();
    const baseline = log.baselineTrial;
    // Scores are relative to the baseline and oriented so that higher is better.
    // Pooled over every trial of the configuration (a confirmed one was measured more than once).
    const score = best === null ? null : log.configurationScore(best.configuration);
    const gain =
      baseline !== null && baseline.status === "feasible" && best !== null && score !== null
        ? best === baseline
          ? 0
          : score - 1
        : null;
    // The baseline as the last feasible anchor measured it: when the machine drifted, the gain
    // against it is the one measured closest to the end of the tune.
    const latest =
      [...log.trials]
        .reverse()
        .find((t) => t.kind === "anchor" && t.status === "feasible" && t.value !== null) ?? null;
    const gainLatest =
      latest === null ||
      best === null ||
      best.status !== "feasible" ||
      best.value === null ||
      latest.value === null
        ? null
        : baseline !== null &&
            configurationKey(best.configuration) === configurationKey(baseline.configuration)
          ? 0
          : relativeGain(best.value, latest.value, settings.objective);
    const measured = new Set(
      log.trials
        .filter((t) => t.stage === "search" || t === baseline)
        .map((t) => configurationKey(t.configuration)),
    );
    return {
      exit_reason: exit,
      exit_detail: detail,
      trials: log.trials,
      chosen_model: chosen,
      rejected,
      not_measured: notMeasured,
      baseline,
      best,
      gain,
      latest_baseline: latest,
      gain_vs_latest_baseline: gainLatest,
      drift_warning: Math.abs(log.maxDrift()) > DRIFT_WARNING,
      tie_band: log.tieBand(),
      drift: log.drift,
      max_drift: log.maxDrift(),
      search_end: searchEnd,
      grid_size: gridSize,
      configurations_measured: measured.size,
      resumed: log.resumed,
    };
  };

  if (input.candidates.length > 1) {
    try {
      for (const [i, model] of input.candidates.entries()) {
        const configuration = withModel(model);
        const fit = await input.checkFit?.(configuration);
        if (fit !== null && fit !== undefined && !fit.fits) {
          const reason = fit.reason ?? "does not fit in memory";
          rejected.push({ model, verdict: "wont_fit", reason });
          input.onCandidate?.(model, "wont_fit", reason);
          continue;
        }
        const probe = await log.run(configuration, "probe", "fit");
        if (probe.status === "feasible") {
          chosen = model;
          notMeasured.push(...input.candidates.slice(i + 1));
          input.onCandidate?.(model, "chosen", null);
          break;
        }
        const reason = probe.reason ?? probe.status;
        rejected.push({ model, verdict: "infeasible", reason });
        input.onCandidate?.(model, "infeasible", reason);
      }
    } catch (error) {
      if (error instanceof TuneStop) return finish(error.reason, stopDetail(error.reason), null);
      throw error;
    }
    if (chosen === null) {
      const probes = log.trials.filter((t) => t.kind === "probe");
      return finish(
        probes.length > 0 && probes.every((t) => t.failure === "error" || t.failure === "crash")
          ? "server_failed"
          : "no_feasible_candidate",
        `no candidate is feasible at the default knobs: ${rejected.map((r) => `${String(r.model)} (${r.verdict}: ${r.reason})`).join("; ")}`,
        null,
      );
    }
  } else if (chosen !== null) {
    const fit = await input.checkFit?.(withModel(chosen));
    if (fit !== null && fit !== undefined && !fit.fits) {
      const reason = fit.reason ?? "does not fit in memory";
      rejected.push({ model: chosen, verdict: "wont_fit", reason });
      return finish("no_feasible_candidate", `the model will not fit: ${reason}`, null);
    }
  }

  const searchEnd = await searchKnobs({
    axes: input.axes,
    fixed: chosen === null ? {} : { model: chosen },
    baseline: input.baseline,
    log,
    strategy: settings.strategy,
    anchor_every: settings.anchor_every,
    seed: settings.seed,
    confirm: settings.confirm ?? DEFAULT_CONFIRM,
    replicates: settings.replicates,
  });
  const best = log.best();
  if (searchEnd === "interrupted") return finish("interrupted", stopDetail("interrupted"), searchEnd);
  if (best === null) {
    const base = log.baselineTrial;
    const searched = log.trials.filter((t) => t.stage === "search");
    if (searchEnd === "budget_exhausted")
      return finish(
        "budget_exhausted",
        "the budget ran out before a feasible configuration was found",
        searchEnd,
      );
    // The server refused its arguments for every configuration: the command line is wrong.
    if (searched.length > 0 && searched.every((t) => /^bad_args\b/.test(t.reason ?? "")))
      return finish(
        "config_error",
        `the server rejected its arguments: ${searched[0]?.reason ?? ""}`,
        searchEnd,
      );
    if (searched.length > 0 && searched.every((t) => t.failure === "crash" || t.failure === "error"))
      return finish(
        "server_failed",
        `the server did not serve any configuration: ${base?.reason ?? searched[0]?.reason ?? ""}`,
        searchEnd,
      );
    return finish("no_feasible_candidate", "no configuration passed the gate", searchEnd);
  }
  if (searchEnd === "budget_exhausted")
    return finish("budget_exhausted", stopDetail("budget_exhausted"), searchEnd);
  return finish("found", null, searchEnd);
}

function stopDetail(reason: "budget_exhausted" | "interrupted"): string {
  return reason === "interrupted"
    ? "interrupted by the user"
    : "the trial or time budget ran out before the search converged (the best so far is recommended)";
}
