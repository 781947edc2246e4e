import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Comparison } from "../../src/compare/compareRuns.js";
import type { RegressionReport } from "../../src/compare/judgeRegression.js";
import { RequestTable } from "../../src/results/RequestTable.js";
import type { RunResult } from "../../src/results/RunResult.js";
import { StatsAccumulator } from "../../src/stats/StatsAccumulator.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { seededRandom } from "../../src/workload/seededRandom.js";
import { runCli } from "../cli/runCli.js";
import { sampleRunResult } from "../storage/fixtures/sampleRun.js";

/** A stored run whose tg128 repetitions and inter-token latencies are given. */
function run(
  id: string,
  tg: number[],
  options: {
    threads?: number;
    itlScale?: number;
    promptTokens?: number;
    startedAt?: string;
    /** Each repetition's CPU share (CPU time / (threads x wall time)); no CPU times when absent. */
    cpuShare?: number;
    /** Each repetition's 10th-percentile decode step, ns (`decode_step_p10_ns`); none when absent. */
    stepNs?: number[];
    /** Each repetition's median step as a multiple of its p10 step (`decode_step_p50_ns`); 1.05 (steady) by default. */
    medianToP10?: number;
  } = {},
): RunResult {
  const result = sampleRunResult(id, 0);
  const random = seededRandom(id.length * 7919 + tg.length);
  const itl = new StatsAccumulator();
  for (let i = 0; i < 3000; i++) itl.add((options.itlScale ?? 1) * (9 + 2 * random()));
  const mean = tg.reduce((a, b) => a + b, 0) / tg.length;
  result.started_at = options.startedAt ?? result.started_at;
  result.config = {
    target: "embedded",
    model: "/models/tiny.gguf",
    tests: { pp: [], tg: [128], pg: [], depth: [0] },
    workload: {
      prompt_tokens: options.promptTokens ?? 128,
      prompt_file: null,
      max_tokens: 64,
      force_output_length: true,
      unique_prefix: true,
    },
    load: { concurrency: 1, rate: null },
  };
  result.requests = new RequestTable();
  result.summary = {
    ...result.summary,
    requests: { total: 50, succeeded: 50, failed: 0, cancelled: 0, errors_by_code: {} },
    total_prompt_tokens: 50 * (options.promptTokens ?? 128),
    itl_ms: itl.stats(),
  };
  result.distributions = {
    encoding: "hdr-v2-base64",
    value_scale: 1000,
    histograms: { itl_ms: itl.encodedHistogram() as string },
  };
  result.tests = [
    {
      test: "tg128",
      model_type: "llama ?B Q4_0",
      backends: "cpu",
      n_prompt: 0,
      n_gen: 128,
      n_depth: 0,
      n_threads: options.threads ?? 1,
      n_batch: 2048,
      n_ubatch: 512,
      n_gpu_layers: 0,
      type_k: "f16",
      type_v: "f16",
      flash_attn: false,
      n_parallel: 1,
      avg_ts: mean,
      stddev_ts: 0,
      samples_ts: tg,
      ...(options.cpuShare === undefined
        ? {}
        : {
            samples_ns: tg.map((rate) => Math.round((128 * 1e9) / rate)),
            engine_cpu_ns: tg.map((rate) =>
              Math.round((options.cpuShare as number) * (options.threads ?? 1) * ((128 * 1e9) / rate)),
            ),
          }),
      ...(options.stepNs === undefined
        ? {}
        : {
            decode_step_p10_ns: options.stepNs,
            decode_step_p50_ns: options.stepNs.map((ns) => Math.round(ns * (options.medianToP10 ?? 1.05))),
          }),
      status: "ok",
    },
  ];
  return result;
}

/** Stores `runs` in the database `db` and accepts `accepted` as baselines, in that order. */
async function seedDatabase(db: string, runs: RunResult[], accepted: string[]): Promise<void> {
  const store = RunStore.open(db);
  for (const r of runs) store.finishRun(r);
  store.close();
  for (const id of accepted) {
    const result = await runCli(["accept", id, "--db", db]);
    assert.equal(result.code, 0, result.stderr);
  }
}

describe("tokbench compare and regress (CLI, real SQLite)", () => {
  let dir: string;
  let db: string;
  const cli = (...args: string[]) => runCli([...args, "--db", db]);
  const regress = async (...args: string[]): Promise<{ code: number | null; report: RegressionReport }> => {
    const r = await cli("regress", "--format", "json", ...args);
    return { code: r.code, report: JSON.parse(r.stdout) as RegressionReport };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-compare-"));
    db = join(dir, "runs.sqlite");
    const t = (n: number) => `2025-01-0${n}T00:00:00.000Z`;
    await seedDatabase(
      db,
      [
        run("base", [100, 101, 99, 100.5, 99.5], { startedAt: t(1) }),
        run("same", [100.2, 99.8, 100.1, 99.9, 100.4], { startedAt: t(2) }),
        run("slow", [85, 86, 85.5, 84.5, 85.2], { startedAt: t(3) }),
        run("slight", [95, 95.5, 94.8, 95.2, 94.9], { startedAt: t(4) }),
        run("noisy", [50, 120, 60, 110, 70], { startedAt: t(5) }),
        run("two-reps", [80, 81], { startedAt: t(6) }),
        run("other-workload", [100, 100, 100], { promptTokens: 512, startedAt: t(7) }),
        run("two-threads", [150, 151, 149, 150, 150], { threads: 2, startedAt: t(8) }),
        run("itl-up", [100, 101, 99, 100.5, 99.5], { itlScale: 1.25, startedAt: t(9) }),
        // Long prompts: inter-token latency 1.5x that of the short-prompt runs above.
        run("long-base", [100, 101, 99, 100.5, 99.5], {
          promptTokens: 2048,
          itlScale: 1.5,
          startedAt: "2025-01-10T00:00:00.000Z",
        }),
        run("long", [100.2, 99.8, 100.1, 99.9, 100.4], {
          promptTokens: 2048,
          itlScale: 1.5,
          startedAt: "2025-01-11T00:00:00.000Z",
        }),
      ],
      [],
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("compare lists differences first and gives a verdict per matched row", async () => {
    const r = await cli("compare", "base", "slow", "same", "--format", "json");
    assert.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout) as Comparison;
    assert.deepEqual(c.differences, []);
    const tg = c.rows.find((row) => row.section === "tests");
    assert.ok(tg !== undefined);
    assert.deepEqual(
      tg.comparisons.map((x) => x.verdict),
      ["slower", "no significant change"],
    );
    const ratio = tg.comparisons[0]?.ratio as number;
    assert.ok(Math.abs(ratio - 0.85) < 0.01, String(ratio));
    assert.ok((tg.comparisons[0]?.low as number) < ratio && (tg.comparisons[0]?.high as number) > ratio);
    const itl95 = c.rows.find((row) => row.name === "inter-token latency" && row.stat === "p95");
    assert.equal(itl95?.comparisons[0]?.verdict, "no significant change");

    const threads = await cli("compare", "base", "two-threads", "--format", "json");
    const ct = JSON.parse(threads.stdout) as Comparison;
    assert.deepEqual(
      ct.differences.map((d) => [d.kind, d.field, d.values]),
      [["configuration", "n_threads", ["1", "2"]]],
    );
    assert.equal(ct.rows.find((row) => row.section === "tests")?.comparisons[0]?.verdict, "faster");

    const md = await cli("compare", "base", "slow", "--format", "md");
    assert.match(md.stdout, /^### tokbench compare/);
    assert.match(md.stdout, /\| tg128 \(threads 1, batch 2048, .*\| slower \|/);
    const table = await cli("compare", "base", "slow");
    assert.match(table.stdout, /no differences in machine, engine, model, workload or configuration/);
    assert.match(table.stdout, /slower/);
  });

  it("regress exits 0 for noise, a small significant drop and a large drop within the noise; 1 for a real drop", async () => {
    assert.equal((await regress("--baseline", "base", "--current", "same")).code, 0);
    const slight = await regress("--baseline", "base", "--current", "slight");
    assert.equal(slight.code, 0);
    assert.equal(slight.report.findings.find((f) => f.rule.startsWith("decode"))?.status, "within threshold");
    const noisy = await regress("--baseline", "base", "--current", "noisy");
    assert.equal(noisy.code, 0);
    assert.equal(
      noisy.report.findings.find((f) => f.rule.startsWith("decode"))?.status,
      "over threshold, not significant",
    );
    const slow = await regress("--baseline", "base", "--current", "slow");
    assert.equal(slow.code, 1);
    assert.equal(slow.report.verdict, "regression");
    const finding = slow.report.findings.find((f) => f.rule === "decode rate, short prompt");
    assert.equal(finding?.status, "regression");
    assert.ok(Math.abs((finding?.worse_pct as number) - 15) < 0.5);
    // The threshold is the user's: at 20 % the same drop passes.
    assert.equal(
      (await regress("--baseline", "base", "--current", "slow", "--max-decode-drop", "20")).code,
      0,
    );
    const itl = await regress("--baseline", "base", "--current", "itl-up");
    assert.equal(itl.code, 1);
    assert.equal(itl.report.findings.find((f) => f.row === "inter-token latency p95")?.status, "regression");
  });

  it("regress --short-run applies the long/short prompt rule: p95 ITL with long prompts at most 1.3x", async () => {
    const plain = await regress("--baseline", "long-base", "--current", "long");
    assert.equal(plain.code, 0);
    const ruled = await regress("--baseline", "long-base", "--current", "long", "--short-run", "base");
    assert.equal(ruled.code, 1, JSON.stringify(ruled.report.findings));
    const finding = ruled.report.findings.find((f) => f.rule === "long/short prompt ITL p95");
    assert.equal(finding?.status, "regression");
    assert.ok(Math.abs((finding?.worse_pct as number) - 50) < 3, String(finding?.worse_pct));
    const tolerant = await regress(
      "--baseline",
      "long-base",
      "--current",
      "long",
      "--short-run",
      "base",
      "--max-long-short-itl",
      "1.6",
    );
    assert.equal(tolerant.code, 0);
    const bad = await cli(
      "regress",
      "--current",
      "long",
      "--short-run",
      "base",
      "--max-long-short-itl",
      "0.5",
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--max-long-short-itl must be a ratio >= 1/);
  });

  it("regress exits 2 when it cannot judge: too few repetitions, another workload, other knobs, no baseline, bad input", async () => {
    const few = await regress("--baseline", "base", "--current", "two-reps");
    assert.equal(few.code, 2);
    assert.match(few.report.reasons.join(";"), /too few repetitions/);
    const other = await regress("--baseline", "base", "--current", "other-workload");
    assert.equal(other.code, 2);
    assert.match(other.report.reasons.join(";"), /different workloads/);
    const knobs = await regress("--baseline", "base", "--current", "two-threads");
    assert.equal(knobs.code, 2);
    assert.match(knobs.report.reasons.join(";"), /different configuration: n_threads 1 vs 2/);
    const none = await cli("regress", "--current", "slow");
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no accepted baseline/);
    const missing = await cli("regress", "--baseline", "nope", "--current", "slow");
    assert.equal(missing.code, 2);
    const badFlag = await cli("regress", "--max-decode-drop", "-3");
    assert.equal(badFlag.code, 2);
  });

  it("accept makes a run the baseline of its model and workload; regress --baseline accepted uses the latest", async () => {
    assert.equal((await cli("accept", "same")).code, 0);
    assert.equal((await cli("accept", "base")).code, 0);
    const r = await regress("--current", "slow");
    assert.equal(r.code, 1);
    assert.equal(r.report.baseline_run_id, "base");
    const md = await cli("regress", "--current", "slow", "--format", "md");
    assert.equal(md.code, 1);
    assert.match(md.stdout, /### ❌ tokbench regress: regression/);
    const text = await cli("regress", "--current", "same");
    assert.equal(text.code, 0);
    assert.match(text.stdout, /NO REGRESSION \(exit 0\)/);
  });
});

describe("regress between runs: the accepted baselines' spread is the noise (CLI, real SQLite)", () => {
  let dir: string;
  let db: string;
  const regress = async (...args: string[]): Promise<{ code: number | null; report: RegressionReport }> => {
    const r = await runCli(["regress", "--format", "json", ...args, "--db", db]);
    return { code: r.code, report: JSON.parse(r.stdout) as RegressionReport };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-regress-runs-"));
    db = join(dir, "runs.sqlite");
    const t = (n: number) => `2025-02-0${n}T00:00:00.000Z`;
    // Three accepted runs whose best repetitions are 101, 99 and 102 t/s (each had its cores).
    await seedDatabase(
      db,
      [
        run("acc-1", [100, 101, 99, 100.5, 99.5], { cpuShare: 1, startedAt: t(1) }),
        run("acc-2", [98, 99, 97.5, 98.5, 98], { cpuShare: 1, startedAt: t(2) }),
        run("acc-3", [101, 102, 100.5, 101.5, 101], { cpuShare: 1, startedAt: t(3) }),
        // The same engine on a busy machine: every repetition waited for a core 15 % of its time.
        run("busy", [85, 86, 84, 85.5, 85], { cpuShare: 0.85, startedAt: t(4) }),
        // A slower engine that had its cores.
        run("slower", [80, 81, 79, 80.5, 80], { cpuShare: 1, startedAt: t(5) }),
      ],
      ["acc-1", "acc-2", "acc-3"],
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a run slowed by the machine's load passes; judged within two runs, the same run is a false alarm", async () => {
    const busy = await regress("--current", "busy");
    assert.equal(busy.code, 0, JSON.stringify(busy.report));
    const finding = busy.report.findings.find((f) => f.rule === "decode rate, short prompt");
    assert.match(finding?.row ?? "", /best load-corrected t\/s, against 3 baseline runs/);
    // Best repetition 86 t/s at a 0.85 share: 101.2 t/s corrected, against a mean level of 100.67.
    assert.ok(Math.abs((finding?.current as number) - 86 / 0.85) < 0.01, String(finding?.current));
    assert.ok(Math.abs((finding?.baseline as number) - (101 + 99 + 102) / 3) < 0.01);
    assert.equal(finding?.status, "within threshold");
    // The old judgment (the repetitions of the latest baseline against the current run's).
    const within = await regress("--current", "busy", "--noise-runs", "0");
    assert.equal(within.code, 1);
    assert.equal(within.report.baseline_run_id, "acc-3");
  });

  it("a slower engine is a regression against the baseline runs' spread", async () => {
    const slower = await regress("--current", "slower");
    assert.equal(slower.code, 1, JSON.stringify(slower.report));
    const finding = slower.report.findings.find((f) => f.rule === "decode rate, short prompt");
    assert.equal(finding?.status, "regression");
    // Levels 101, 99, 102 (mean 100.67, s 1.528); current 81: t = -19.67 / (1.528 * sqrt(4/3)) = -11.15,
    // 2 degrees of freedom: p = 0.0079 (scipy.stats.t).
    assert.ok(Math.abs((finding?.p_value as number) - 0.0079) < 0.0005, String(finding?.p_value));
    assert.ok(Math.abs((finding?.worse_pct as number) - (1 - 81 / 100.6667) * 100) < 0.01);
  });

  it("--noise-runs is checked", async () => {
    const bad = await runCli(["regress", "--current", "slower", "--noise-runs", "1.5", "--db", db]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--noise-runs must be a whole number/);
  });
});

describe("regress on decode step rates (CLI, real SQLite)", () => {
  let dir: string;
  let db: string;
  const regress = async (...args: string[]): Promise<{ code: number | null; report: RegressionReport }> => {
    const r = await runCli(["regress", "--format", "json", ...args, "--db", db]);
    return { code: r.code, report: JSON.parse(r.stdout) as RegressionReport };
  };
  // Wall-clock rates that a busy machine scattered; the step quantiles that stayed put.
  const noisy = [1900, 2450, 1500, 2200, 1700];
  const steps = (ns: number) => [ns + 30_000, ns, ns + 5_000, ns + 12_000, ns + 8_000];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-regress-steps-"));
    db = join(dir, "runs.sqlite");
    const t = (n: number) => `2025-03-0${n}T00:00:00.000Z`;
    await seedDatabase(
      db,
      [
        // Step levels 1e9 / 400,000 ns = 2,500 t/s, 2,475.2 and 2,512.6.
        run("acc-1", noisy, { cpuShare: 0.6, stepNs: steps(400_000), startedAt: t(1) }),
        run(
          "acc-2",
          noisy.map((x) => x * 1.1),
          { cpuShare: 0.7, stepNs: steps(404_000), startedAt: t(2) },
        ),
        run(
          "acc-3",
          noisy.map((x) => x * 0.8),
          { cpuShare: 0.5, stepNs: steps(398_000), startedAt: t(3) },
        ),
        // The same engine, its wall-clock rates 30 % down on a busy machine, its fast steps not.
        run(
          "busy",
          noisy.map((x) => x * 0.7),
          { cpuShare: 0.6, stepNs: steps(401_000), startedAt: t(4) },
        ),
        // An engine 10 % slower per step (a step 1/0.9 as long).
        run("slower", noisy, { cpuShare: 0.6, stepNs: steps(Math.round(400_000 / 0.9)), startedAt: t(5) }),
        // An older baseline without step quantiles: the level falls back to the load-corrected rate.
        run("old", [2400, 2410, 2390, 2405, 2395], { cpuShare: 1, startedAt: t(6) }),
        // Every step stretched: median steps 1.5x the p10 ones in every repetition, none steady.
        run(
          "swamped",
          noisy.map((x) => x * 0.4),
          {
            cpuShare: 0.3,
            stepNs: steps(480_000),
            medianToP10: 1.5,
            startedAt: t(7),
          },
        ),
      ],
      ["acc-1", "acc-2", "acc-3"],
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("between runs: the busy run passes, a 10 % slower step fails at a 5 % threshold (one-sided p)", async () => {
    const busy = await regress("--current", "busy", "--max-decode-drop", "5");
    assert.equal(busy.code, 0, JSON.stringify(busy.report));
    const ok = busy.report.findings.find((f) => f.rule === "decode rate, short prompt");
    assert.match(ok?.row ?? "", /decode step rate .*against 3 baseline runs/);
    assert.ok(Math.abs((ok?.current as number) - 1e9 / 401_000) < 1e-6, String(ok?.current));
    const slower = await regress("--current", "slower", "--max-decode-drop", "5");
    assert.equal(slower.code, 1, JSON.stringify(slower.report));
    const bad = slower.report.findings.find((f) => f.rule === "decode rate, short prompt");
    // Levels 2500, 2475.25, 2512.56 t/s (mean 2495.94, s 18.99); current 2250: t = -245.94 / (18.99 *
    // sqrt(4/3)) = -11.22, 2 degrees of freedom, one-sided p = 0.00393 (scipy.stats.t.cdf).
    const levels = [1e9 / 400_000, 1e9 / 404_000, 1e9 / 398_000];
    assert.ok(Math.abs((bad?.baseline as number) - levels.reduce((a, b) => a + b) / 3) < 1e-6);
    assert.ok(Math.abs((bad?.p_value as number) - 0.00393) < 0.0002, String(bad?.p_value));
    assert.equal(bad?.status, "regression");
  });

  it("within two runs: Welch on the repetitions' step rates; the busy run is no longer a false alarm", async () => {
    const busy = await regress("--current", "busy", "--baseline", "acc-3", "--max-decode-drop", "5");
    assert.equal(busy.code, 0, JSON.stringify(busy.report));
    const finding = busy.report.findings.find((f) => f.rule === "decode rate, short prompt");
    assert.match(finding?.row ?? "", /decode step rate \(p10 step of each steady repetition\)/);
    const slower = await regress("--current", "slower", "--baseline", "acc-1", "--max-decode-drop", "5");
    assert.equal(slower.code, 1, JSON.stringify(slower.report));
  });

  it("a current run with no steady repetition cannot be judged (exit 2), however slow it looks", async () => {
    const r = await regress("--current", "swamped", "--max-decode-drop", "5");
    assert.equal(r.code, 2, JSON.stringify(r.report));
    const finding = r.report.findings.find((f) => f.rule === "decode rate, short prompt");
    assert.equal(finding?.status, "cannot judge");
    assert.match(finding?.reason ?? "", /no repetition of the current run ran steadily/);
  });

  it("a baseline run without step quantiles: judged on the repetitions' rates, as before", async () => {
    const r = await regress("--current", "busy", "--baseline", "old", "--noise-runs", "0");
    const finding = r.report.findings.find((f) => f.rule === "decode rate, short prompt");
    assert.doesNotMatch(finding?.row ?? "", /step rate/);
  });
});

describe("regress defaults", () => {
  it("the CLI's defaults are judgeRegression's", async () => {
    const { REGRESS_DEFAULTS } = await import("../../src/cli/commands/RegressCommand.js");
    const { DEFAULT_THRESHOLDS } = await import("../../src/compare/judgeRegression.js");
    for (const [key, value] of Object.entries(REGRESS_DEFAULTS)) {
      assert.equal(DEFAULT_THRESHOLDS[key as keyof typeof DEFAULT_THRESHOLDS], value, key);
    }
  });
});
