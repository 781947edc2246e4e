/**
 * How often `tokbench regress` is right, measured on real repeated runs of the embedded engine.
 *
 *   node dist/bench/regressVerdicts.js [--rounds 20] [--repetitions 5] [--tg 128] [--draws 1000]
 *        [--db FILE] [--a-shape JSON] [--b-shape JSON] [--analyze-only]
 *
 * Recording: `--rounds` rounds of two real `tokbench bench` processes, interleaved A, B, A, B (so
 * the machine's drift hits both arms alike), each one run of `tg N` with `--repetitions`
 * repetitions, stored in one database:
 *   A: a synthetic model (tiny, Q4_0, seed 1; `--a-shape` overrides its shape), the configuration
 *      under test;
 *   B: the same with `--b-shape` (default: a fifth layer): a real slowdown of the engine, whose size
 *      the bench measures and prints (about 17-20 % with 4 and 5 layers, 10 % with 8 and 9).
 *
 * Analysis, with the code `tokbench regress` runs (judgeRegression), each figure at the default
 * thresholds (12 % decode drop) and with the decode threshold lowered to 5 %:
 *   - within two runs (one baseline run, the repetitions test): A/A false alarms over every ordered
 *     pair of distinct A runs, and detection of B over every (A, B) pair;
 *   - between runs (a baseline and its reference runs, as `regress --baseline accepted` uses the
 *     earlier accepted baselines): `--draws` seeded draws of k + 1 distinct A runs (k baseline runs,
 *     one current) for the false alarms, and of k A runs and one B run for detection, k = 3, 5, 9;
 *   - secondary, labelled as such: a real A run's repetitions slowed by 10 % by arithmetic (rates
 *     x 0.9, times / 0.9) as the current run.
 * B's rows are relabelled as A's test and model (a different model file is a different
 * configuration to `regress`, which would rightly refuse to judge it).
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ComparableRun, loadComparableRun } from "../src/compare/ComparableRun.js";
import type { RepetitionTest } from "../src/compare/compareRuns.js";
import { judgeRegression, type RegressionThresholds } from "../src/compare/judgeRegression.js";
import { bestDecodeStepRate } from "../src/metrics/decodeStepRate.js";
import { bestLoadCorrectedRate } from "../src/metrics/loadCorrectedRate.js";
import { mean, median, sampleStddev } from "../src/stats/descriptive.js";
import { RunStore } from "../src/storage/RunStore.js";
import { synthesizeModel } from "../src/synth/synthesizeModel.js";
import { seededRandom } from "../src/workload/seededRandom.js";
import { parseBenchArgs } from "./benchArgs.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["rounds", "repetitions", "tg", "draws"],
  options: {
    rounds: { type: "string", default: "20" },
    repetitions: { type: "string", default: "5" },
    tg: { type: "string", default: "128" },
    draws: { type: "string", default: "1000" },
    db: { type: "string", default: join(tmpdir(), "tokbench-regress-verdicts.sqlite") },
    "a-shape": { type: "string", default: "{}" },
    "b-shape": { type: "string", default: '{"blockCount":5}' },
    "analyze-only": { type: "boolean", default: false },
  },
});
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const db = String(values.db);
/**
 * A's and B's shape overrides of the tiny preset. Defaults: the tiny model (4 layers) and a fifth
 * layer (about 17-20 % slower on a CPU); `--a-shape '{"blockCount":8}' --b-shape '{"blockCount":9}'`
 * makes the slowdown about 10 % (a layer's share of a step with 8 of them plus the fixed cost).
 */
const aShape = JSON.parse(String(values["a-shape"])) as Record<string, number>;
const bShape = JSON.parse(String(values["b-shape"])) as Record<string, number>;
const modelPath = (arm: string, shape: Record<string, number>): string =>
  join(
    tmpdir(),
    `tokbench-regress-${arm}${Object.entries(shape)
      .map(([k, v]) => `-${k}${v}`)
      .join("")}.gguf`,
  );
const modelA = modelPath("a", aShape);
const modelB = modelPath("b", bShape);

function bench(model: string, tag: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        CLI,
        "bench",
        "--model",
        model,
        "--db",
        db,
        "--no-progress",
        "--repetitions",
        String(values.repetitions),
        "--tg",
        String(values.tg),
        "--tag",
        tag,
      ],
      { maxBuffer: 1 << 24 },
      (error, _stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve()),
    );
  });
}

if (!values["analyze-only"]) {
  if (!existsSync(modelA))
    await synthesizeModel({ preset: "tiny", type: "q4_0", seed: 1, out: modelA, shape: aShape });
  if (!existsSync(modelB))
    await synthesizeModel({ preset: "tiny", type: "q4_0", seed: 1, out: modelB, shape: bShape });
  const rounds = Number(values.rounds);
  const started = performance.now();
  for (let i = 0; i < rounds; i++) {
    await bench(modelA, "regress-a");
    await bench(modelB, "regress-b");
    process.stderr.write(
      `recorded ${i + 1}/${rounds} rounds (${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
    );
  }
}

const store = RunStore.open(db);
const history = store.history();
const load = async (tag: string): Promise<ComparableRun[]> => {
  const { runs } = await history.listRuns({ tag, status: "completed" });
  return Promise.all(runs.reverse().map((r) => loadComparableRun(history, r.run_id)));
};
const a = await load("regress-a");
const b = await load("regress-b");
store.close();
const tgRow = (r: ComparableRun): Record<string, unknown> =>
  r.run.tests.find((t) => t.test !== "load") as Record<string, unknown>;
const avg = (r: ComparableRun): number => tgRow(r).avg_ts as number;
const best = (r: ComparableRun): number => bestLoadCorrectedRate(tgRow(r)) as number;
const step = (r: ComparableRun): number | null => bestDecodeStepRate(tgRow(r));

/** `from`'s measured repetitions in `like`'s clothes: the same test, model, machine and workload. */
function asSameTest(like: ComparableRun, from: Record<string, unknown>, id: string): ComparableRun {
  const samples = from.samples_ts as number[];
  const row = {
    ...tgRow(like),
    samples_ts: samples,
    samples_ns: from.samples_ns,
    engine_cpu_ns: from.engine_cpu_ns,
    ...(from.decode_step_p10_ns === undefined
      ? {}
      : { decode_step_p10_ns: from.decode_step_p10_ns, decode_step_p50_ns: from.decode_step_p50_ns }),
    avg_ts: mean(samples),
    stddev_ts: sampleStddev(samples),
  };
  return {
    ...like,
    run: { ...like.run, run_id: id, tests: like.run.tests.map((t) => (t.test === "load" ? t : row)) },
  };
}
const relabelled = b.map((r, i) => asSameTest(a[0] as ComparableRun, tgRow(r), `b-${i}`));
/** A real A run made 10 % slower by arithmetic. */
const slowed = (r: ComparableRun): ComparableRun => {
  const row = tgRow(r);
  return asSameTest(
    r,
    {
      samples_ts: (row.samples_ts as number[]).map((x) => x * 0.9),
      samples_ns: (row.samples_ns as number[]).map((x) => x / 0.9),
      engine_cpu_ns: (row.engine_cpu_ns as number[]).map((x) => x / 0.9),
      ...(row.decode_step_p10_ns === undefined
        ? {}
        : {
            decode_step_p10_ns: (row.decode_step_p10_ns as number[]).map((x) => x / 0.9),
            decode_step_p50_ns: (row.decode_step_p50_ns as number[]).map((x) => x / 0.9),
          }),
    },
    `${r.run.run_id}-slowed`,
  );
};

type Case = { baseline: ComparableRun; current: ComparableRun; references: ComparableRun[] };
function rate(cases: Case[], thresholds: Partial<RegressionThresholds>): string {
  let regression = 0;
  let cannot = 0;
  for (const c of cases) {
    const report = judgeRegression(c.baseline, c.current, thresholds, c.references);
    if (report.exit_code === 1) regression++;
    if (report.exit_code === 2) cannot++;
  }
  const pct = (100 * regression) / Math.max(1, cases.length);
  const judged = cases.length - cannot;
  const ofJudged =
    cannot > 0 && judged > 0 ? `; ${((100 * regression) / judged).toFixed(1)} % of those judged` : "";
  return `${pct.toFixed(1).padStart(5)} % (${regression}/${cases.length}${cannot > 0 ? `, ${cannot} cannot judge` : ""}${ofJudged})`;
}

const cv = (xs: number[]): string => `${((100 * sampleStddev(xs)) / mean(xs)).toFixed(1)} %`;
console.log(
  `runs: ${a.length} A (tiny Q4_0 changed by ${JSON.stringify(aShape)}), ${b.length} B (tiny changed by ${JSON.stringify(bShape)}), tg${values.tg}, ${values.repetitions} repetitions each; database ${db}`,
);
console.log(
  `A, run to run: mean of repetitions (wall clock) median ${median(a.map(avg)).toFixed(0)} t/s, CV ${cv(a.map(avg))}; best load-corrected repetition median ${median(a.map(best)).toFixed(0)} t/s, CV ${cv(a.map(best))}`,
);
const withSteps = (xs: ComparableRun[]): number[] => xs.map(step).filter((x): x is number => x !== null);
if (withSteps(a).length > 1) {
  console.log(
    `A, run to run: step level (fastest steady repetition's p10 decode step) median ${median(withSteps(a)).toFixed(0)} t/s, CV ${cv(withSteps(a))} (${withSteps(a).length} of ${a.length} runs with a steady repetition)`,
  );
}
if (withSteps(a).length > 0 && withSteps(b).length > 0) {
  console.log(
    `B's real slowdown by the step level: ${(100 * (1 - median(withSteps(b)) / median(withSteps(a)))).toFixed(1)} % (medians over runs)`,
  );
}
if (b.length > 0) {
  console.log(
    `B's real slowdown: ${(100 * (1 - median(b.map(avg)) / median(a.map(avg)))).toFixed(1)} % by the mean of repetitions, ${(100 * (1 - median(b.map(best)) / median(a.map(best)))).toFixed(1)} % by the best load-corrected repetition (medians over runs)`,
  );
}

const random = seededRandom(12);
const draws = Number(values.draws);
/** `n` distinct items of `xs`, drawn at random. */
function pick<T>(xs: readonly T[], n: number): T[] {
  const copy = [...xs];
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (copy.length - i));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, n);
}

const withinAA: Case[] = [];
const withinAB: Case[] = [];
const withinSlowed: Case[] = [];
for (const x of a) {
  for (const y of a) {
    if (x === y) continue;
    withinAA.push({ baseline: x, current: y, references: [] });
    withinSlowed.push({ baseline: x, current: slowed(y), references: [] });
  }
  for (const y of relabelled) withinAB.push({ baseline: x, current: y, references: [] });
}

for (const test of ["welch", "mann-whitney"] as RepetitionTest[]) {
  const base = { repetition_test: test };
  console.log(
    `\nWithin two runs (one baseline run), ${test === "welch" ? "Welch's t-test" : "Mann-Whitney U"} on the repetitions (their step rates where both runs have them):`,
  );
  console.log(`  A/A false alarms, default thresholds (12 %):      ${rate(withinAA, base)}`);
  console.log(
    `  A/A false alarms, decode threshold 5 %:           ${rate(withinAA, { ...base, decode_drop_pct: 5 })}`,
  );
  if (withinAB.length > 0) {
    console.log(`  B detected, default thresholds:                   ${rate(withinAB, base)}`);
    console.log(
      `  B detected, decode threshold 5 %:                 ${rate(withinAB, { ...base, decode_drop_pct: 5 })}`,
    );
  }
  console.log(
    `  [secondary] 10 % slowed A detected, threshold 5 %: ${rate(withinSlowed, { ...base, decode_drop_pct: 5 })}`,
  );
}

for (const k of [3, 5, 9]) {
  if (a.length < k + 1) continue;
  const aa: Case[] = [];
  const ab: Case[] = [];
  const sl: Case[] = [];
  for (let d = 0; d < draws; d++) {
    const [baseline, ...rest] = pick(a, k + 1) as [ComparableRun, ...ComparableRun[]];
    const current = rest.pop() as ComparableRun;
    aa.push({ baseline, current, references: rest });
    sl.push({ baseline, current: slowed(current), references: rest });
    if (relabelled.length > 0) {
      const [bl, ...refs] = pick(a, k) as [ComparableRun, ...ComparableRun[]];
      ab.push({ baseline: bl, current: pick(relabelled, 1)[0] as ComparableRun, references: refs });
    }
  }
  console.log(
    `\nBetween runs, ${k} baseline runs (step level, or best load-corrected repetition without step quantiles; one-sided prediction t-test), ${draws} draws:`,
  );
  console.log(`  A/A false alarms, default thresholds (12 %):      ${rate(aa, {})}`);
  console.log(`  A/A false alarms, decode threshold 5 %:           ${rate(aa, { decode_drop_pct: 5 })}`);
  if (ab.length > 0) {
    console.log(`  B detected, default thresholds:                   ${rate(ab, {})}`);
    console.log(`  B detected, decode threshold 5 %:                 ${rate(ab, { decode_drop_pct: 5 })}`);
  }
  console.log(`  [secondary] 10 % slowed A detected, threshold 5 %: ${rate(sl, { decode_drop_pct: 5 })}`);
}
