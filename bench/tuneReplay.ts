/**
 * How good the tuner's search is, on complete recorded grids (bench/grids/*.jsonl, each written by
 * `tokbench sweep --cells-out` over every configuration of a grid): for each grid and search
 * setting, over many seeds, the share of the grid optimum the recommendation reaches and the
 * configurations measured. The grid optimum is what a full sweep of the same grid with the same
 * replicates picks (the best median among configurations feasible in every replicate); a
 * recommendation's worth is its value in the grid, judged the same way. Settings marked `random
 * start` begin from a feasible configuration drawn per seed instead of the server's defaults;
 * `resampled` ones see fresh noise (replicates drawn again from the recorded ones), with what a
 * full sweep of the same resampled grid reaches beside them. Prints figures, asserts nothing.
 *
 *   node dist/bench/tuneReplay.js [--seeds 200] [--grid NAME] [--setting TEXT] [--json]
 */
import { readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTable } from "../src/output/createTable.js";
import type { AxisValue } from "../src/search/Axis.js";
import { productSize } from "../src/search/cartesianProduct.js";
import type { ProviderName } from "../src/servers/ServerProvider.js";
import { median, sampleStddev } from "../src/stats/descriptive.js";
import type { SweepBudgets } from "../src/sweep/SweepSpec.js";
import { defaultBaseline } from "../src/tune/defaultBaseline.js";
import { configurationKey } from "../src/tune/Measurement.js";
import {
  type ReplayRecord,
  type ReplaySource,
  readReplayFile,
  replaySource,
} from "../src/tune/replaySource.js";
import { runTune, type TuneSettings } from "../src/tune/runTune.js";
import { SEARCH_STRATEGIES, type SearchStrategy } from "../src/tune/searchKnobs.js";
import { judgeTrial } from "../src/tune/Trial.js";
import { seededRandom } from "../src/workload/seededRandom.js";
import { parseBenchArgs } from "./benchArgs.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  options: {
    seeds: { type: "string", default: "200" },
    grid: { type: "string" },
    setting: { type: "string" },
    json: { type: "boolean", default: false },
    // The folder of recorded grids (default: bench/grids of the checkout).
    dir: { type: "string" },
  },
  numeric: ["seeds"],
});
const seeds = Number(values.seeds);
const only = values.grid;
const onlySetting = values.setting;
const here = dirname(fileURLToPath(import.meta.url));
// dist/bench -> bench/grids in the checkout
const gridDir = values.dir ?? join(here, "..", "..", "bench", "grids");

interface Setting {
  name: string;
  strategy: SearchStrategy;
  /** Share of the grid's configurations the trial budget allows. */
  budget: number;
  tie_band: number | null;
  anchor_every: number;
  /**
   * Where the search starts: the server's defaults (`default`), or a feasible configuration of the
   * grid drawn per seed (`random`: a user's `--baseline`; on a grid whose default is its optimum,
   * the only way to see the search find it). Defaults to `default`.
   */
  start?: "default" | "random";
  /**
   * `resampled`: per seed, each configuration feasible in every recorded replicate gets its
   * replicates drawn again with replacement from its recorded ones (a fresh sweep's noise): the
   * tuner no longer sees the grid's own medians. Its reference is a full sweep of the resampled
   * grid, judged the same way. Defaults to the recorded replicates.
   */
  noise?: "recorded" | "resampled";
  /** Trials kept to re-measure close contenders (TuneSettings.confirm). Defaults to the tuner's default. */
  confirm?: number;
}

const SETTINGS: Setting[] = [
  ...SEARCH_STRATEGIES.map((s) => ({
    name: `${s} 10%`,
    strategy: s,
    budget: 0.1,
    tie_band: null,
    anchor_every: 0,
  })),
  { name: "coordinate 5%", strategy: "coordinate", budget: 0.05, tie_band: null, anchor_every: 0 },
  { name: "coordinate 20%", strategy: "coordinate", budget: 0.2, tie_band: null, anchor_every: 0 },
  { name: "coordinate 10% band 0", strategy: "coordinate", budget: 0.1, tie_band: 0, anchor_every: 0 },
  { name: "coordinate 10% anchor 8", strategy: "coordinate", budget: 0.1, tie_band: null, anchor_every: 8 },
  {
    name: "coordinate 10% anchor 8, random start",
    strategy: "coordinate",
    budget: 0.1,
    tie_band: null,
    anchor_every: 8,
    start: "random",
  },
  {
    name: "coordinate 10% band 0, random start",
    strategy: "coordinate",
    budget: 0.1,
    tie_band: 0,
    anchor_every: 8,
    start: "random",
  },
  {
    name: "coordinate 20% anchor 8, random start",
    strategy: "coordinate",
    budget: 0.2,
    tie_band: null,
    anchor_every: 8,
    start: "random",
  },
  {
    name: "random 10%, random start",
    strategy: "random",
    budget: 0.1,
    tie_band: null,
    anchor_every: 0,
    start: "random",
  },
  ...(["", ", random start", ", resampled"] as const).map(
    (variant): Setting => ({
      name: `coordinate 10% anchor 8${variant}, confirm 0`,
      strategy: "coordinate",
      budget: 0.1,
      tie_band: null,
      anchor_every: 8,
      confirm: 0,
      ...(variant === ", random start" ? { start: "random" as const } : {}),
      ...(variant === ", resampled" ? { noise: "resampled" as const } : {}),
    }),
  ),
  {
    name: "coordinate 10% band 0, resampled",
    strategy: "coordinate",
    budget: 0.1,
    tie_band: 0,
    anchor_every: 8,
    noise: "resampled",
  },
  ...(["model"] as const).flatMap((strategy): Setting[] => [
    { name: `${strategy} 10% anchor 8`, strategy, budget: 0.1, tie_band: null, anchor_every: 8 },
    {
      name: `${strategy} 10% anchor 8, random start`,
      strategy,
      budget: 0.1,
      tie_band: null,
      anchor_every: 8,
      start: "random",
    },
    {
      name: `${strategy} 10% band 0, random start`,
      strategy,
      budget: 0.1,
      tie_band: 0,
      anchor_every: 8,
      start: "random",
    },
    {
      name: `${strategy} 10% anchor 8, resampled`,
      strategy,
      budget: 0.1,
      tie_band: null,
      anchor_every: 8,
      noise: "resampled",
    },
  ]),
  {
    name: "coordinate 10% anchor 8, resampled",
    strategy: "coordinate",
    budget: 0.1,
    tie_band: null,
    anchor_every: 8,
    noise: "resampled",
  },
];

/**
 * The grid's lines with fresh noise: each configuration feasible in every recorded replicate gets
 * as many replicates drawn with replacement from its recorded ones; the others keep their lines (a
 * failure stays a failure, so the grid's infeasible configurations stay infeasible).
 */
function resampledRecords(
  source: ReplaySource,
  random: () => number,
  draws: number,
): { tuner: ReplayRecord[]; sweep: ReplayRecord[] } {
  const tuner: ReplayRecord[] = [];
  const sweep: ReplayRecord[] = [];
  for (const lines of source.lines.values()) {
    const clean = lines.every((l) => l.measured && l.measurement.status === "ok" && l.measurement.feasible);
    if (!clean) {
      tuner.push(...lines);
      sweep.push(...lines);
      continue;
    }
    // `draws` times as many lines as were recorded, so that a configuration the tuner measures
    // again gets fresh draws (a live server's next measurement), not its first ones cycled; the
    // full sweep measures each configuration once, on the first of them.
    for (let i = 0; i < lines.length * draws; i++) {
      const line = lines[Math.floor(random() * lines.length)] as ReplayRecord;
      tuner.push(line);
      if (i < lines.length) sweep.push(line);
    }
  }
  return { tuner, sweep };
}

/** Each configuration's value as a full sweep judges it on all its lines: the median, null when not feasible in every replicate. */
function sweepValues(source: ReplaySource): Map<string, number | null> {
  const values = new Map<string, number | null>();
  for (const [key, lines] of source.lines) {
    const judged = judgeTrial(
      {
        replicates: lines.filter((l) => l.measured).map((l) => l.measurement),
        failure: lines.some((l) => !l.measured && l.measurement.status !== "ok")
          ? { status: "error", reason: "failed" }
          : null,
      },
      "throughput",
      { max_ttft_p95_ms: null, max_itl_p95_ms: null },
    );
    values.set(key, judged.status === "feasible" ? judged.value : null);
  }
  return values;
}

/** What a full sweep of these lines picks: the configuration with the best value; null when none is feasible. */
function sweepPick(source: ReplaySource): string | null {
  let pick: string | null = null;
  let best = Number.NEGATIVE_INFINITY;
  for (const [key, value] of sweepValues(source)) {
    if (value !== null && value > best) {
      best = value;
      pick = key;
    }
  }
  return pick;
}

function quantile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))] as number;
}

const rows: Record<string, unknown>[] = [];
const files = readdirSync(gridDir)
  .filter((f) => f.endsWith(".jsonl"))
  .filter((f) => only === undefined || f.includes(only))
  .sort();
for (const file of files) {
  const path = join(gridDir, file);
  const header = readFileSync(path, "utf8").split("\n", 1)[0] ?? "";
  const provider = (/provider: ([a-z-]+)/.exec(header)?.[1] ?? "template") as ProviderName;
  const records = readReplayFile(path);
  const source = replaySource(records);
  const modelAxis = source.axes.find((a) => a.name === "model");
  const axes = source.axes.filter((a) => a.name !== "model");
  const candidates: AxisValue[] = modelAxis === undefined ? [] : [...modelAxis.values];
  const replicates = Math.max(...[...source.lines.values()].map((l) => l.length));
  const objective = "throughput" as const;
  const budgets: SweepBudgets = { max_ttft_p95_ms: null, max_itl_p95_ms: null };

  // The grid as a full sweep sees it: every configuration judged on all its recorded replicates.
  const gridValue = sweepValues(source);
  // Feasible configurations of the grid without the model: the random starts.
  const starts = source.configurations
    .filter((c) => typeof gridValue.get(configurationKey(c)) === "number")
    .map((c) => {
      const { model: _model, ...knobs } = c;
      return knobs;
    });
  const feasibleValues = [...gridValue.values()].filter((v): v is number => v !== null);
  const optimum = Math.max(...feasibleValues);
  // The grid a full sweep planned (configurations it skipped after an OOM are absent from the file).
  const size = productSize(source.axes);
  const baseline = defaultBaseline(axes, provider, 2);
  const baselineValue = gridValue.get(
    configurationKey(candidates.length === 1 ? { ...baseline, model: candidates[0] as AxisValue } : baseline),
  );
  const within = (share: number) => feasibleValues.filter((v) => v >= share * optimum).length;
  // How reproducible the grid is: the noise of one measurement (pooled relative standard
  // deviation of the replicates), and what a full sweep that had only the first replicate would
  // pick, judged by the other replicates (its share of their optimum). Where that is low, the
  // grid's optimum is a draw of the noise and no search can be expected to reach it.
  const spreads: number[] = [];
  const firstHalf = new Map<string, number>();
  const secondHalf = new Map<string, number>();
  for (const [key, lines] of source.lines) {
    if (gridValue.get(key) === null || gridValue.get(key) === undefined) continue;
    const values = lines.map((l) => l.measurement.output_tokens_per_s).filter((v): v is number => v !== null);
    const m = median(values);
    if (values.length >= 2 && m > 0) spreads.push(sampleStddev(values) / m);
    if (values.length >= 2) {
      firstHalf.set(key, values[0] as number);
      secondHalf.set(key, median(values.slice(1)));
    }
  }
  const cv = Math.sqrt(spreads.reduce((a, x) => a + x * x, 0) / Math.max(1, spreads.length));
  let pickA: string | null = null;
  for (const [key, v] of firstHalf) if (pickA === null || v > (firstHalf.get(pickA) as number)) pickA = key;
  const maxB = Math.max(...secondHalf.values());
  const repeat = pickA === null ? Number.NaN : (secondHalf.get(pickA) as number) / maxB;
  process.stdout.write(
    `${basename(file)}: ${size} configurations (${feasibleValues.length} feasible, ${size - feasibleValues.length} failed, infeasible or skipped after an OOM), ${replicates} replicates, ` +
      `optimum ${optimum.toFixed(3)} tok/s, baseline ${baselineValue?.toFixed(3) ?? "infeasible"} (${baselineValue ? ((100 * baselineValue) / optimum).toFixed(1) : "-"} %), ` +
      `${within(0.97)} configurations within 3 % of it, ${within(0.9)} within 10 %; ` +
      `noise of one measurement ${(100 * cv).toFixed(1)} %, a sweep of the first replicates alone picks ${(100 * repeat).toFixed(1)} % of the optimum of the others\n`,
  );

  for (const setting of SETTINGS.filter((x) => onlySetting === undefined || x.name.includes(onlySetting))) {
    const shares: number[] = [];
    const sweepShares: number[] = [];
    const measured: number[] = [];
    const trials: number[] = [];
    // The best grid value among the configurations the tuner measured: what a perfect final
    // choice among them would reach (the search found it; the noise hid it or not).
    const reachable: number[] = [];
    let infeasible = 0;
    let none = 0;
    const maxTrials = Math.max(3, Math.floor(setting.budget * size));
    for (let seed = 1; seed <= seeds; seed++) {
      // Draws of the bench itself, apart from the search's own seed.
      const draw = seededRandom(1_000_003 * seed + 17);
      const resampled = setting.noise === "resampled" ? resampledRecords(source, draw, 4) : null;
      const fresh = replaySource(resampled?.tuner ?? records);
      if (resampled !== null) {
        const pick = sweepPick(replaySource(resampled.sweep));
        sweepShares.push(pick === null ? 0 : (gridValue.get(pick) ?? 0) / optimum);
      }
      const start =
        setting.start === "random" ? (starts[Math.floor(draw() * starts.length)] ?? baseline) : baseline;
      const settings: TuneSettings = {
        objective,
        budgets,
        replicates,
        limits: { max_trials: maxTrials, time_budget_ms: null },
        tie_band: setting.tie_band,
        strategy: setting.strategy,
        anchor_every: setting.anchor_every,
        seed,
        ...(setting.confirm === undefined ? {} : { confirm: setting.confirm }),
      };
      const outcome = await runTune({
        axes,
        candidates,
        baseline: start,
        settings,
        measure: fresh.measure,
      });
      trials.push(outcome.trials.length);
      reachable.push(
        Math.max(
          0,
          ...outcome.trials
            .filter((t) => t.stage === "search" || t === outcome.baseline)
            .map((t) => gridValue.get(configurationKey(t.configuration)) ?? 0),
        ) / optimum,
      );
      measured.push(outcome.configurations_measured / size);
      if (outcome.best === null) {
        none++;
        shares.push(0);
        continue;
      }
      const value = gridValue.get(configurationKey(outcome.best.configuration));
      if (value === null || value === undefined) {
        infeasible++;
        shares.push(0);
      } else shares.push(value / optimum);
    }
    rows.push({
      grid: basename(file, ".jsonl"),
      setting: setting.name,
      max_trials: maxTrials,
      median_share: median(shares),
      p10_share: quantile(shares, 0.1),
      min_share: Math.min(...shares),
      median_measured_best: median(reachable),
      median_measured: median(measured),
      max_measured: Math.max(...measured),
      median_trials: median(trials),
      infeasible_recommendations: infeasible,
      no_recommendation: none,
      // What a full sweep of the same resampled grids reaches (null with the recorded replicates: 100 %).
      median_sweep_share: sweepShares.length === 0 ? null : median(sweepShares),
    });
  }
}

if (values.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
else {
  const pct = (v: unknown) => `${(100 * (v as number)).toFixed(1)}`;
  const table = createTable({
    head: [
      "grid",
      "setting",
      "max trials",
      "median % of opt",
      "p10 %",
      "min %",
      "best measured %",
      "measured % (median / max)",
      "trials",
      "infeasible recs",
      "none",
      "full sweep %",
    ],
  });
  for (const r of rows) {
    table.push([
      r.grid as string,
      r.setting as string,
      String(r.max_trials),
      pct(r.median_share),
      pct(r.p10_share),
      pct(r.min_share),
      pct(r.median_measured_best),
      `${pct(r.median_measured)} / ${pct(r.max_measured)}`,
      String(r.median_trials),
      String(r.infeasible_recommendations),
      String(r.no_recommendation),
      r.median_sweep_share === null ? "100" : pct(r.median_sweep_share),
    ]);
  }
  process.stdout.write(`${table.toString()}\n(${seeds} seeds per setting)\n`);
}
