import type { Axis, AxisValue } from "../search/Axis.js";
import { compareLoad } from "../search/loadOrder.js";
import { seededRandom } from "../workload/seededRandom.js";
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
 * - `random`: configurations drawn uniformly, without repetition (the reference a search must beat).
 */
export type SearchStrategy = "coordinate" | "neighbourhood" | "random";

export const SEARCH_STRATEGIES: readonly SearchStrategy[] = ["coordinate", "neighbourhood", "random"];

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
}

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

  /** The score of a configuration, measuring it when it has none yet; null when infeasible. */
  const evaluate = async (knobs: Configuration): Promise<number | null> => {
    const configuration = full(knobs);
    if (configurationKey(configuration) === configurationKey(baseline) || log.find(configuration))
      return log.configurationScore(configuration);
    if (ruledOut(configuration)) return null;
    if (input.anchor_every > 0 && sinceAnchor >= input.anchor_every && log.baselineTrial !== null) {
      if (log.baselineTrial.status === "feasible") await log.run(baseline, "anchor", "search");
      sinceAnchor = 0;
    }
    const trial: Trial = await log.run(configuration, "candidate", "search");
    sinceAnchor++;
    if (trial.failure === "oom") oom.push(configuration);
    return log.configurationScore(configuration);
  };

  try {
    const existing = log.find(baseline);
    if (existing !== undefined) log.adoptBaseline(existing);
    else await log.run(baseline, "baseline", "search");
    if (input.strategy === "random") await randomSearch();
    else if (input.strategy === "neighbourhood") await neighbourhood();
    else await coordinate();
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
  async function polish(): Promise<void> {
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
        for (const knobs of neighboursOf(next[1].knobs)) await evaluate(knobs);
      }
    } catch (error) {
      if (error instanceof TuneStop && error.reason === "budget_exhausted") return;
      throw error;
    }
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
