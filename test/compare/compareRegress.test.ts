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
  options: { threads?: number; itlScale?: number; promptTokens?: number; startedAt?: string } = {},
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
      status: "ok",
    },
  ];
  return result;
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
    const store = RunStore.open(db);
    const t = (n: number) => `2025-01-0${n}T00:00:00.000Z`;
    for (const r of [
      run("base", [100, 101, 99, 100.5, 99.5], { startedAt: t(1) }),
      run("same", [100.2, 99.8, 100.1, 99.9, 100.4], { startedAt: t(2) }),
      run("slow", [85, 86, 85.5, 84.5, 85.2], { startedAt: t(3) }),
      run("slight", [95, 95.5, 94.8, 95.2, 94.9], { startedAt: t(4) }),
      run("noisy", [50, 120, 60, 110, 70], { startedAt: t(5) }),
      run("two-reps", [80, 81], { startedAt: t(6) }),
      run("other-workload", [100, 100, 100], { promptTokens: 512, startedAt: t(7) }),
      run("two-threads", [150, 151, 149, 150, 150], { threads: 2, startedAt: t(8) }),
      run("itl-up", [100, 101, 99, 100.5, 99.5], { itlScale: 1.25, startedAt: t(9) }),
    ]) {
      store.finishRun(r);
    }
    store.close();
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

describe("regress defaults", () => {
  it("the CLI's defaults are judgeRegression's", async () => {
    const { REGRESS_DEFAULTS } = await import("../../src/cli/commands/RegressCommand.js");
    const { DEFAULT_THRESHOLDS } = await import("../../src/compare/judgeRegression.js");
    for (const [key, value] of Object.entries(REGRESS_DEFAULTS)) {
      assert.equal(DEFAULT_THRESHOLDS[key as keyof typeof DEFAULT_THRESHOLDS], value, key);
    }
  });
});
