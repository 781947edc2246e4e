/**
 * How often `tokbench regress` is right, measured on real repeated runs of the embedded engine.
 *
 *   node dist/bench/regressVerdicts.js [--runs 16] [--repetitions 5] [--tg 128] [--slow-depth 128]
 *        [--db FILE] [--analyze-only]
 *
 * Recording: `--runs` pairs of real `tokbench bench` processes on the default synthetic model,
 * interleaved A, B, A, B (so the machine's drift hits both arms alike), each one run of `tg N` with
 * `--repetitions` repetitions, stored in one database:
 *   A: `--tg N` (the configuration under test);
 *   B: `--tg N --depth D`: the same decode after D tokens of context, a real slowdown of the engine
 *      (attention over a longer KV cache); the bench prints how big it turned out (median B / median A).
 *
 * Analysis, with the code `tokbench regress` runs (judgeRegression):
 *   - A/A false alarms: every pair of distinct A runs (baseline, current), judged with the default
 *     thresholds and with the decode threshold lowered to 5 %;
 *   - detection: every (A, B) pair, B's measured repetitions judged as if they were the same test
 *     (B's rows carry A's test identity; a depth is a different workload to `regress`, which would
 *     rightly refuse to judge it), with the decode threshold at 5 % (a 10 % drop cannot cross the
 *     default 12 %, by design);
 *   - secondary check, labelled as such: A's own repetitions scaled by 0.9 (an injected 10 % drop);
 *   - each of the above with Welch's t-test and with Mann-Whitney U on the repetitions.
 */
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ComparableRun, loadComparableRun } from "../src/compare/ComparableRun.js";
import type { RepetitionTest } from "../src/compare/compareRuns.js";
import { judgeRegression, type RegressionThresholds } from "../src/compare/judgeRegression.js";
import { mean, median, sampleStddev } from "../src/stats/descriptive.js";
import { RunStore } from "../src/storage/RunStore.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "16" },
    repetitions: { type: "string", default: "5" },
    tg: { type: "string", default: "128" },
    "slow-depth": { type: "string", default: "128" },
    db: { type: "string", default: join(tmpdir(), "tokbench-regress-verdicts.sqlite") },
    "analyze-only": { type: "boolean", default: false },
  },
});
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const db = String(values.db);

function bench(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [
        CLI,
        "bench",
        "--db",
        db,
        "--no-progress",
        "--repetitions",
        String(values.repetitions),
        "--tg",
        String(values.tg),
        ...args,
      ],
      { maxBuffer: 1 << 24 },
      (error, _stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve()),
    );
  });
}

if (!values["analyze-only"]) {
  const runs = Number(values.runs);
  const started = performance.now();
  for (let i = 0; i < runs; i++) {
    await bench(["--tag", "regress-a"]);
    await bench(["--tag", "regress-b", "--depth", String(values["slow-depth"])]);
    process.stderr.write(
      `recorded ${i + 1}/${runs} pairs (${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
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
const samplesOf = (r: ComparableRun): number[] => tgRow(r).samples_ts as number[];

/** `from`'s repetitions in `like`'s clothes: the same test, machine and workload, other figures. */
function asSameTest(like: ComparableRun, samples: number[]): ComparableRun {
  const row = {
    ...tgRow(like),
    samples_ts: samples,
    avg_ts: mean(samples),
    stddev_ts: sampleStddev(samples),
  };
  return {
    ...like,
    run: {
      ...like.run,
      run_id: `${like.run.run_id}'`,
      tests: like.run.tests.map((t) => (t.test === "load" ? t : row)),
    },
  };
}

function rate(
  pairs: [ComparableRun, ComparableRun][],
  thresholds: Partial<RegressionThresholds>,
): { regression: number; cannot: number; n: number } {
  let regression = 0;
  let cannot = 0;
  for (const [base, current] of pairs) {
    const report = judgeRegression(base, current, thresholds);
    if (report.exit_code === 1) regression++;
    if (report.exit_code === 2) cannot++;
  }
  return { regression, cannot, n: pairs.length };
}

const pct = (x: { regression: number; n: number }): string =>
  `${((100 * x.regression) / Math.max(1, x.n)).toFixed(1)} % (${x.regression}/${x.n})`;

const cvs = a.map((r) => sampleStddev(samplesOf(r)) / mean(samplesOf(r)));
console.log(
  `runs: ${a.length} A (tg${values.tg}), ${b.length} B (tg${values.tg} @ d${values["slow-depth"]}), ${values.repetitions} repetitions each; database ${db}`,
);
console.log(
  `A: median avg_ts ${median(a.map(avg)).toFixed(1)} t/s, run-to-run CV ${((100 * sampleStddev(a.map(avg))) / mean(a.map(avg))).toFixed(1)} %, within-run CV median ${(100 * median(cvs)).toFixed(1)} %`,
);
if (b.length > 0) {
  console.log(
    `B: median avg_ts ${median(b.map(avg)).toFixed(1)} t/s: the real slowdown is ${(100 * (1 - median(b.map(avg)) / median(a.map(avg)))).toFixed(1)} % (median B / median A)`,
  );
}
const aa: [ComparableRun, ComparableRun][] = [];
for (let i = 0; i < a.length; i++)
  for (let j = 0; j < a.length; j++) if (i !== j) aa.push([a[i] as ComparableRun, a[j] as ComparableRun]);
const ab: [ComparableRun, ComparableRun][] = [];
for (const base of a) for (const slow of b) ab.push([base, asSameTest(base, samplesOf(slow))]);
const injected: [ComparableRun, ComparableRun][] = aa.map(([x, y]) => [
  x,
  asSameTest(
    y,
    samplesOf(y).map((v) => v * 0.9),
  ),
]);

for (const test of ["welch", "mann-whitney"] as RepetitionTest[]) {
  const base = { repetition_test: test };
  console.log(`\n${test === "welch" ? "Welch's t-test" : "Mann-Whitney U"} on the repetitions:`);
  console.log(`  A/A false alarms, default thresholds (12 % decode):        ${pct(rate(aa, base))}`);
  console.log(
    `  A/A false alarms, decode threshold 5 %:                    ${pct(rate(aa, { ...base, decode_drop_pct: 5 }))}`,
  );
  if (ab.length > 0)
    console.log(
      `  real slowdown (B) detected, decode threshold 5 %:          ${pct(rate(ab, { ...base, decode_drop_pct: 5 }))}`,
    );
  console.log(
    `  [secondary] injected 10 % drop detected, threshold 5 %:    ${pct(rate(injected, { ...base, decode_drop_pct: 5 }))}`,
  );
}
