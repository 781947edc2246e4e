import type { Axis, AxisValue } from "../search/Axis.js";
import { productSize } from "../search/cartesianProduct.js";
import { compareLoad } from "../search/loadOrder.js";
import { seededRandom } from "../workload/seededRandom.js";
import { expectedImprovement, fitAdditiveModel } from "./additiveModel.js";
import { type Configuration, configurationKey } from "./Measurement.js";
import type { Trial } from "./Trial.js";
import { type TrialLog, TuneStop } from "./TrialLog.js";

/**
 * The search strategies. `coordinate` is the default (chosen by bench/tuneReplay.ts, see
 * docs/tune.md); the others are there to be compared with it.
 * - `coordinate`: from the baseline, one axis at a time: on an ordered axis, step from the
 *   current best towards the better neighbour and keep stepping while it improves; on an
 *   unordered one, try every value; repeat passes until a whole pass moves nothing;
 * - `neighbourhood`: steepest ascent: measure every neighbour (one step on each ordered axis,
 *   every other value of each unordered one), move to the best, until none improves;
 * - `model`: the one-step neighbours of the start, then an additive model of the log score over
 *   the knob values (see `additiveModel.ts`), refitted after every trial; the next trial is the
 *   configuration of highest expected improvement over the best predicted so far; then the
 *   coordinate search's polish;
 * - `random`: configurations drawn uniformly, without repetition (the reference a search must beat).
 */
export type SearchStrategy = "coordinate" | "model" | "neighbourhood" | "random";

export const SEARCH_STRATEGIES: readonly SearchStrategy[] = [
  "coordinate",
  "model",
  "neighbourhood",
  "random",
];

/**
 * The model search looks along every axis through this many of the configurations it predicts
 * best (bench/tuneReplay.ts: 1 to 5 tried; 3 reached the most from random starts).
 */
const TRUST_TOP = 3;

/** How stage 2 ended: a local optimum was reached (`converged`) or the budget ran out first. */
export type SearchEnd = "converged" | "budget_exhausted" | "interrupted";

/** Inputs of {@link searchKnobs}. */
export interface KnobSearchInput {
  /** The knob axes (the model axis excluded); their `order` is the memory order used after an OOM. */
  axes: readonly Axis[];
  /** Values held fixed (the chosen model), added to every configuration. */
  fixed: Configuration;
  /** The default configuration of the knob axes: measured first (or taken from stage 1). */
  baseline: Configuration;
  log: TrialLog;
  strategy: SearchStrategy;
  /** Re-measure the baseline after this many other trials (drift anchor); 0 never. */
  anchor_every: number;
  /** Seed of the search's random choices (axis order, draws). */
  seed: number;
  /**
   * Re-measurements of close contenders at the end (0: none): the last trials of the budget are
   * kept for them, or they follow when the search converges early.
   */
  confirm: number;
  /** Measurements per trial (to count a configuration's replicates). */
  replicates: number;
}

/** Thrown inside the search when only the trials kept for confirmation are left. */
class ConfirmNow extends Error {}

/** One axis as the search walks it: numeric values in ascending order are neighbours. */
interface WalkAxis {
  name: string;
  values: AxisValue[];
  ordinal: boolean;
}

function walkAxes(axes: readonly Axis[]): WalkAxis[] {
  return axes
    .filter((a) => a.values.length > 1)
    .map((a) => {
      const numeric = a.values.every((v) => typeof v === "number");
      return {
        name: a.name,
        values: numeric ? [...a.values].sort((x, y) => (x as number) - (y as number)) : [...a.values],
        ordinal: numeric || a.order === "ascending",
      };
    });
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Stage 2: searches the knob space of the chosen model for the configuration with the best score,
 * through `log` (which measures, enforces the limits and judges). The baseline is measured first
 * (unless stage 1 already did); every `anchor_every` trials it is measured again so that drift is
 * seen and scores stay relative to the latest baseline. A configuration that ran out of memory
 * rules out, unmeasured, every configuration at least as heavy on the memory-ordered axes (and
 * equal on the others). Returns how the search ended; the best trial is `log.best()`.
 */
export async function searchKnobs(input: KnobSearchInput): Promise<SearchEnd> {
  const { log, fixed } = input;
  const random = seededRandom(input.seed);
  const axes = walkAxes(input.axes);
  const full = (knobs: Configuration): Configuration => ({ ...knobs, ...fixed });
  const baseline = full(input.baseline);
  const oom: Configuration[] = [];
  let sinceAnchor = 0;

  const ruledOut = (configuration: Configuration): boolean =>
    oom.some((f) => {
      const c = compareLoad(input.axes, configuration, f);
      return c === "heavier" || c === "equal";
    });

  /** Measures a configuration (again, when confirming), with the drift anchor's turn first when it is due. */
  const measure = async (configuration: Configuration): Promise<Trial> => {
    if (input.anchor_every > 0 && sinceAnchor >= input.anchor_every && log.baselineTrial !== null) {
      if (log.baselineTrial.status === "feasible") await log.run(baseline, "anchor", "search");
      sinceAnchor = 0;
    }
    const trial: Trial = await log.run(configuration, "candidate", "search");
    sinceAnchor++;
    return trial;
  };

  /** Trials left before `max_trials` (the time budget is not foreseen). */
  const left = (): number => log.options.limits.max_trials - log.used;

  /** The score of a configuration, measuring it when it has none yet; null when infeasible. */
  const evaluate = async (knobs: Configuration): Promise<number | null> => {
    const configuration = full(knobs);
    if (configurationKey(configuration) === configurationKey(baseline) || log.find(configuration))
      return log.configurationScore(configuration);
    if (ruledOut(configuration)) return null;
    // The last trials are kept to confirm the close contenders (see confirm()).
    if (input.confirm > 0 && left() <= input.confirm && contenders().length > 1) throw new ConfirmNow();
    const trial = await measure(configuration);
    if (trial.failure === "oom") oom.push(configuration);
    return log.configurationScore(configuration);
  };

  /**
   * The configurations tied with the top one: measured, feasible, scored over all their trials,
   * within the band of the top score for their numbers of replicates; the top first.
   */
  function contenders(): { configuration: Configuration; score: number; replicates: number }[] {
    const all: { configuration: Configuration; score: number; replicates: number }[] = [];
    const seen = new Set<string>();
    for (const t of log.trials) {
      if ((t.stage !== "search" && t !== log.baselineTrial) || t.kind === "anchor") continue;
      const key = configurationKey(t.configuration);
      if (seen.has(key)) continue;
      seen.add(key);
      const p = key === log.baselineKey ? null : log.pooled(t.configuration);
      const score = key === log.baselineKey ? log.configurationScore(t.configuration) : (p?.score ?? null);
      if (score === null) continue;
      const replicates =
        p?.replicates ??
        log.trials.filter((x) => configurationKey(x.configuration) === key).length * input.replicates;
      all.push({ configuration: t.configuration, score, replicates });
    }
    if (all.length === 0) return [];
    all.sort((a, b) => b.score - a.score);
    const top = all[0] as (typeof all)[number];
    return all.filter((c) => c.score >= top.score / (1 + log.bandBetween(top.replicates, c.replicates)));
  }

  /**
   * With the budget's last trials, the configurations tied with the top one (within the noise of
   * their difference) are measured again, the least measured first, and their replicates pooled
   * (TrialLog.pooled): a single trial's median is one draw of the noise, and on a surface whose
   * best configurations differ by less than the noise, the walk's best is often the luckiest
   * draw rather than the fastest configuration (bench/tuneReplay.ts, resampled rows). More
   * replicates narrow the band between two configurations (TrialLog.bandBetween), so a confirmed
   * difference decides and a confirmed tie goes to the lower TTFT p95. The baseline is never
   * re-measured here: the drift anchors do that.
   */
  async function confirm(): Promise<void> {
    // At most `confirm` re-measurements: each narrows the band between two contenders by a
    // little, and a tune that converged early should not spend its whole budget on them.
    for (let n = 0; n < input.confirm; n++) {
      if (!log.canMeasure()) return;
      const tied = contenders().filter((c) => configurationKey(c.configuration) !== log.baselineKey);
      if (contenders().length <= 1 || tied.length === 0) return;
      tied.sort((a, b) => a.replicates - b.replicates || b.score - a.score);
      await measure((tied[0] as (typeof tied)[number]).configuration);
    }
  }

  try {
    const existing = log.find(baseline);
    if (existing !== undefined) log.adoptBaseline(existing);
    else await log.run(baseline, "baseline", "search");
    try {
      if (input.strategy === "random") await randomSearch();
      else if (input.strategy === "neighbourhood") await neighbourhood();
      else if (input.strategy === "model") await modelSearch();
      else await coordinate();
    } catch (error) {
      if (!(error instanceof ConfirmNow)) throw error;
    }
    if (input.confirm > 0) {
      try {
        await confirm();
      } catch (error) {
        // The anchor took the last trial: the search had converged all the same.
        if (!(error instanceof TuneStop && error.reason === "budget_exhausted")) throw error;
      }
    }
    return "converged";
  } catch (error) {
    if (error instanceof TuneStop) return error.reason;
    throw error;
  }

  async function coordinate(): Promise<void> {
    let center: Configuration = { ...input.baseline };
    let centerScore = (await evaluate(center)) ?? Number.NEGATIVE_INFINITY;
    for (;;) {
      let moved = false;
      for (const axis of shuffled(axes, random).sort((a, b) => b.values.length - a.values.length)) {
        const at = axis.values.indexOf(center[axis.name] as AxisValue);
        if (axis.ordinal && at !== -1) {
          // Try both neighbours first, then walk on from the better one while it keeps improving.
          const directions = shuffled([1, -1], random);
          for (const d of directions) {
            let i = at + d;
            let improvedHere = false;
            // A value that failed the gate (not memory) may be a fluke of the moment, so the walk
            // looks one value past it; after an out-of-memory nothing heavier is tried.
            let skips = 1;
            while (i >= 0 && i < axis.values.length) {
              const knobs = { ...center, [axis.name]: axis.values[i] as AxisValue };
              const s = await evaluate(knobs);
              if (
                s === null &&
                skips > 0 &&
                !ruledOut(full(knobs)) &&
                log.find(full(knobs))?.failure !== "oom"
              ) {
                skips--;
                i += d;
                continue;
              }
              if (s === null || s <= centerScore) break;
              center = knobs;
              centerScore = s;
              moved = true;
              improvedHere = true;
              skips = 1;
              i += d;
            }
            if (improvedHere) break;
          }
        } else {
          let bestKnobs: Configuration | null = null;
          let bestScore = centerScore;
          for (const value of shuffled(axis.values, random)) {
            if (value === center[axis.name]) continue;
            const knobs = { ...center, [axis.name]: value };
            const s = await evaluate(knobs);
            if (s !== null && s > bestScore) {
              bestKnobs = knobs;
              bestScore = s;
            }
          }
          if (bestKnobs !== null) {
            center = bestKnobs;
            centerScore = bestScore;
            moved = true;
          }
        }
      }
      if (!moved) break;
    }
    await polish();
  }

  /**
   * After the coordinate passes converge: while the budget lasts, the recommendation as it stands
   * and then the other configurations measured within the noise of the best (at least 2 %) have
   * every one-step neighbour measured, best first. A coordinate walk moves one axis at a time, so
   * it stops where two axes must change together (llama-server's slots and batch size); a
   * near-best configuration measured on the way is where such a pair is found. When no near-best
   * configuration has an unmeasured neighbour and budget remains, the other measured
   * configurations follow, best first: the walk's end may be a local optimum of a noisy surface,
   * and the budget was given to look (bench/tuneReplay.ts: the median and p10 of every setting
   * hold or improve, the worst seeds from random starts most). Ends when every measured configuration's
   * neighbours are measured. Running out of budget here is still a converged search.
   */
  async function polish(skip: (knobs: Configuration) => boolean = () => false): Promise<void> {
    const expanded = new Set<string>();
    try {
      for (;;) {
        const measured = new Map<string, { knobs: Configuration; score: number }>();
        for (const t of log.trials) {
          if ((t.stage !== "search" && t !== log.baselineTrial) || t.kind === "anchor") continue;
          const key = configurationKey(t.configuration);
          const score = log.configurationScore(t.configuration);
          if (score === null || measured.has(key)) continue;
          const knobs: Record<string, AxisValue> = {};
          for (const axis of input.axes) knobs[axis.name] = t.configuration[axis.name] as AxisValue;
          measured.set(key, { knobs, score });
        }
        const top = Math.max(...[...measured.values()].map((m) => m.score));
        const margin = Math.max(log.tieBand(), 0.02);
        // The recommendation as it stands first (it should be a local optimum), then the other
        // near-best configurations, best first.
        const current = log.best();
        const currentKey = current === null ? null : configurationKey(current.configuration);
        const open = [...measured.entries()]
          .filter(([key]) => !expanded.has(key))
          .sort(
            (a, b) => Number(b[0] === currentKey) - Number(a[0] === currentKey) || b[1].score - a[1].score,
          );
        const next = open.find(([key, m]) => key === currentKey || m.score >= top / (1 + margin)) ?? open[0];
        if (next === undefined) return;
        expanded.add(next[0]);
        for (const knobs of neighboursOf(next[1].knobs)) if (!skip(knobs)) await evaluate(knobs);
      }
    } catch (error) {
      if (error instanceof TuneStop && error.reason === "budget_exhausted") return;
      throw error;
    }
  }

  /** Every other value of one axis, for each axis, in a seeded order. */
  function lineOf(center: Configuration): Configuration[] {
    const out: Configuration[] = [];
    for (const axis of axes)
      for (const v of axis.values) if (v !== center[axis.name]) out.push({ ...center, [axis.name]: v });
    return shuffled(out, random);
  }

  /** One step on each ordered axis, every other value of each unordered one, in a seeded order. */
  function neighboursOf(center: Configuration): Configuration[] {
    const out: Configuration[] = [];
    for (const axis of axes) {
      const at = axis.values.indexOf(center[axis.name] as AxisValue);
      const candidates =
        axis.ordinal && at !== -1
          ? [axis.values[at - 1], axis.values[at + 1]].filter((v) => v !== undefined)
          : axis.values.filter((v) => v !== center[axis.name]);
      for (const v of candidates) out.push({ ...center, [axis.name]: v as AxisValue });
    }
    return shuffled(out, random);
  }

  async function neighbourhood(): Promise<void> {
    let center: Configuration = { ...input.baseline };
    let centerScore = (await evaluate(center)) ?? Number.NEGATIVE_INFINITY;
    for (;;) {
      const neighbours = neighboursOf(center);
      let next: Configuration | null = null;
      let nextScore = centerScore;
      const consider = async (knobs: Configuration): Promise<number | null> => {
        const s = await evaluate(knobs);
        if (s !== null && s > nextScore) {
          next = knobs;
          nextScore = s;
        }
        return s;
      };
      for (const knobs of neighbours) {
        const s = await consider(knobs);
        // Past a neighbour that failed the gate (not memory), one more step on an ordered axis.
        if (s === null && !ruledOut(full(knobs)) && log.find(full(knobs))?.failure !== "oom") {
          const beyond = stepBeyond(center, knobs);
          if (beyond !== null) await consider(beyond);
        }
      }
      if (next === null) return;
      center = next;
      centerScore = nextScore;
    }
  }

  /** The configuration one more step from `center` through `neighbour` on the ordered axis they differ on; null when none. */
  function stepBeyond(center: Configuration, neighbour: Configuration): Configuration | null {
    for (const axis of axes) {
      if (!axis.ordinal || center[axis.name] === neighbour[axis.name]) continue;
      const a = axis.values.indexOf(center[axis.name] as AxisValue);
      const b = axis.values.indexOf(neighbour[axis.name] as AxisValue);
      const v = axis.values[b + (b - a)];
      return v === undefined ? null : { ...neighbour, [axis.name]: v };
    }
    return null;
  }

  /** Every configuration of the walk axes (the baseline's value on the others), in a seeded order; null when there are too many to list. */
  function everyConfiguration(limit: number): Configuration[] | null {
    if (productSize(axes) > limit) return null;
    let all: Configuration[] = [{ ...input.baseline }];
    for (const axis of axes) {
      const grown: Configuration[] = [];
      for (const c of all) for (const v of axis.values) grown.push({ ...c, [axis.name]: v });
      all = grown;
    }
    return shuffled(all, random);
  }

  /** The pairs of knob values of a configuration, as keys. */
  function pairsOf(c: Configuration): string[] {
    const out: string[] = [];
    for (let i = 0; i < axes.length; i++)
      for (let j = i + 1; j < axes.length; j++) {
        const a = axes[i] as WalkAxis;
        const b = axes[j] as WalkAxis;
        out.push(JSON.stringify([a.name, c[a.name], b.name, c[b.name]]));
      }
    return out;
  }

  /**
   * Whether a configuration combines two knob values that were together in a configuration that
   * failed or failed the gate (out of memory is ruled out apart) and never in one that ran: such a
   * pair is the likeliest cause. Gate failures count: with them left out, the simulated grid's
   * heavy configurations (which fail the gate under load) cost the model search 6 points of median
   * from random starts (bench/tuneReplay.ts).
   */
  function suspicion(): (knobs: Configuration) => boolean {
    const ran = new Set<string>();
    const failed = new Set<string>();
    for (const t of log.trials) {
      if (t.stage !== "search" && t !== log.baselineTrial) continue;
      if (t.status === "feasible") for (const pair of pairsOf(t.configuration)) ran.add(pair);
      else if (t.failure !== "oom") for (const pair of pairsOf(t.configuration)) failed.add(pair);
    }
    return (knobs) => pairsOf(knobs).some((pair) => failed.has(pair) && !ran.has(pair));
  }

  /** A configuration drawn uniformly from the walk axes. */
  function drawConfiguration(): Configuration {
    const out: Record<string, AxisValue> = { ...input.baseline };
    for (const axis of axes)
      out[axis.name] = axis.values[Math.floor(random() * axis.values.length)] as AxisValue;
    return out;
  }

  /**
   * Model-guided search. After every trial an additive model of the log score is fitted to all the
   * feasible configurations measured so far (additiveModel.ts), and the next trial is the
   * unmeasured configuration with the highest expected improvement over the best configuration as
   * the model predicts it (not as it measured: a lucky draw of the noise is not the bar). Pooling
   * every trial into the estimate of each knob value's effect is what a walk lacks on a noisy
   * surface, where one comparison of two neighbours is a coin toss when their difference is
   * smaller than the noise. Configurations that cannot run are kept out: those ruled out by an
   * out-of-memory, and those that combine two knob values that were together in a configuration
   * that failed and never in one that ran (llama.cpp refuses a quantized V cache without flash
   * attention: after one such failure the others are not tried while anything else is left).
   * When no configuration is expected to improve by 0.1 % the polish takes over.
   */
  async function modelSearch(): Promise<void> {
    const listed = everyConfiguration(20_000);
    // First a screen: every one-step neighbour of the start (one knob changed at a time), the
    // design that estimates each knob's effect where the search stands, and the moves a walk
    // would try. Without it the model's first jump from the server's defaults went far (to one
    // slot on llama-server's grid) and the optimum one K-cache step away was never measured:
    // 89.9 % from the defaults against 99.7 % with it, and 87.3 % against 99.7 % with fresh noise
    // (bench/tuneReplay.ts; from random starts 96.2 % without against 94.2 % with, on that grid).
    for (const knobs of neighboursOf(input.baseline)) if (!suspicion()(knobs)) await evaluate(knobs);
    for (;;) {
      const observations: { configuration: Configuration; logScore: number }[] = [];
      const isSuspect = suspicion();
      const measuredKeys = new Set<string>();
      for (const t of log.trials) {
        if ((t.stage !== "search" && t !== log.baselineTrial) || t.kind === "anchor") continue;
        const key = configurationKey(t.configuration);
        if (measuredKeys.has(key)) continue;
        measuredKeys.add(key);
        const score = log.configurationScore(t.configuration);
        if (score !== null && score > 0) {
          observations.push({ configuration: t.configuration, logScore: Math.log(score) });
        }
      }
      if (observations.length === 0) return;
      // The noise of one trial's figure: the tie band is that of a difference of two, so / √2; at
      // least 3 % so that a surface that looked smooth so far is not taken at its word.
      const noise = Math.max(0.03, Math.log1p(log.tieBand()) / Math.SQRT2);
      const model = fitAdditiveModel(axes, observations, { effect: 0.3, step: 0.2, noise });
      const incumbent = Math.max(...observations.map((o) => model.predict(o.configuration).mean));
      // A trust region: the configurations that differ in one knob (any value of it) from one of
      // those the model ranks best. Without it the model's largest uncertainty is at the far
      // corners of the space, where servers run out of memory or fail the gate (bench: the
      // whole space lost 7-20 points from the defaults); with one-step neighbours only, a start
      // far from the optimum walks there one value at a time and the budget runs out on the way
      // (bench, random starts: 94.6 / 92.4 / 94.2 % against 95.0 / 96.2 / 100 %).
      const ranked = [...observations].sort(
        (a, b) => model.predict(b.configuration).mean - model.predict(a.configuration).mean,
      );
      let pool = ranked.slice(0, TRUST_TOP).flatMap((o) => lineOf(o.configuration));
      if (pool.every((k) => measuredKeys.has(configurationKey(full(k))) || ruledOut(full(k))))
        pool = listed ?? [
          ...Array.from({ length: 2000 }, drawConfiguration),
          ...observations.flatMap((o) => neighboursOf(o.configuration)),
        ];
      let pick: Configuration | null = null;
      let pickValue = Number.NEGATIVE_INFINITY;
      let pickSuspect = true;
      for (const knobs of pool) {
        const configuration = full(knobs);
        if (measuredKeys.has(configurationKey(configuration)) || ruledOut(configuration)) continue;
        const suspect = isSuspect(knobs);
        if (suspect && !pickSuspect) continue;
        const { mean, sd } = model.predict(knobs);
        const ei = expectedImprovement(mean, sd, incumbent);
        if ((pickSuspect && !suspect) || ei > pickValue) {
          pick = knobs;
          pickValue = ei;
          pickSuspect = suspect;
        }
      }
      if (pick === null || pickValue < 0.001) break;
      await evaluate(pick);
    }
    // The polish leaves out the suspect configurations too.
    await polish((knobs) => suspicion()(knobs));
  }

  async function randomSearch(): Promise<void> {
    const all: Configuration[] = [{}];
    for (const axis of axes) {
      const grown: Configuration[] = [];
      for (const c of all) for (const v of axis.values) grown.push({ ...c, [axis.name]: v });
      all.splice(0, all.length, ...grown);
    }
    // Axes with a single value keep the baseline's.
    for (const knobs of shuffled(all, random)) await evaluate({ ...input.baseline, ...knobs });
  }
}
