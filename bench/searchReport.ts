/**
 * Size and speed of `tokbench report` for a large sweep and a long tune.
 *
 *   node dist/bench/searchReport.js [--cells 1000] [--trials 200] [--repeats 3] [--keep report.html]
 *
 * Stores a sweep of `--cells` cells (ctx x parallel x concurrency x prompt length, 10 x 5 x 10 x 2
 * for 1,000; figures from a simple saturating-server model, with out-of-memory cells, skipped and
 * TTFT-gated ones, so every kind of tile and point is drawn) and a tune of `--trials` trials of 3
 * replicates, through the stores' own writes (`SweepStore`, `TuneStore`), then measures: the report's
 * size, the time to generate it (in-process: reading, collecting, rendering; and `tokbench report`
 * end to end, process start included), and headless Chromium's time from opening the file to every
 * chart drawn. Medians of `--repeats`. The figures are synthetic: this measures the report, not a server.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderReportHtml } from "../src/output/html/renderReportHtml.js";
import { collectReportData } from "../src/report/collectReportData.js";
import type { CellResult } from "../src/results/SweepResult.js";
import type { TrialRecord } from "../src/results/TuneResult.js";
import { median } from "../src/stats/descriptive.js";
import { RunStore } from "../src/storage/RunStore.js";
import { seededRandom } from "../src/workload/seededRandom.js";
import { parseBenchArgs } from "./benchArgs.js";
import { timeReportRender } from "./timeReportRender.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["cells", "trials", "repeats"],
  options: {
    cells: { type: "string", default: "1000" },
    trials: { type: "string", default: "200" },
    repeats: { type: "string", default: "3" },
    /** Keep the report there, to look at. */
    keep: { type: "string" },
  },
});
const cellCount = Number(values.cells);
const trialCount = Number(values.trials);
const repeats = Number(values.repeats);
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tokbench-search-report-bench-"));
const db = join(dir, "runs.sqlite");
const out = join(dir, "report.html");
const random = seededRandom(42);

/** Axis values enough for `cellCount` cells, in the proportions 10 : 5 : 10 : 2. */
const scale = Math.cbrt(cellCount / 1000);
const ctxs = Array.from({ length: Math.max(1, Math.round(10 * scale)) }, (_, i) => 2048 * 2 ** (i / 2));
const parallels = Array.from({ length: Math.max(1, Math.round(5 * scale)) }, (_, i) => 2 ** i);
const concurrencies = Array.from({ length: Math.max(1, Math.round(10 * scale)) }, (_, i) => 2 ** i);
const prompts = [128, 1024];

const sweepId = "bench-sweep";
const tuneId = "bench-tune";
{
  const store = RunStore.open(db);
  const sweeps = store.sweeps();
  const cells: CellResult[] = [];
  for (const ctx of ctxs)
    for (const parallel of parallels)
      for (const concurrency of concurrencies)
        for (const prompt_tokens of prompts) {
          const index = cells.length;
          const oom = ctx * parallel > 2048 * 2 ** 6 || (ctx * concurrency > 2048 * 2 ** 9 && parallel > 2);
          const active = Math.min(parallel, concurrency);
          const tps = 40 * active ** 0.7 * (1 + 0.05 * random());
          const ttft = (prompt_tokens / 8) * Math.max(1, concurrency / parallel) * (1 + 0.05 * random());
          const feasible = !oom && ttft <= 2000;
          const p = (v: number) => ({ p50: v * 0.8, p95: v, p99: v * 1.1 });
          cells.push({
            index,
            key: JSON.stringify([ctx, parallel, concurrency, prompt_tokens]),
            knobs: { ctx: Math.round(ctx), parallel },
            workload: { concurrency, prompt_tokens, max_tokens: 128 },
            status: oom ? "failed" : feasible ? "feasible" : "infeasible",
            reason: oom
              ? "server died during the run: ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer"
              : feasible
                ? null
                : `TTFT p95 ${ttft.toFixed(0)} ms > 2000 ms`,
            failure: oom ? "oom" : null,
            memory_failure: oom,
            notes: [],
            run_id: null,
            run_ids: [],
            summary: oom
              ? null
              : {
                  ttft_ms: p(ttft),
                  itl_ms: p(1000 / (tps / active)),
                  e2e_ms: p(ttft + 128 * (1000 / (tps / active))),
                  output_tokens_per_s: tps,
                  requests_per_s: tps / 128,
                  goodput_rps: feasible ? tps / 128 : 0,
                  goodput_share: feasible ? 1 : 0,
                  requests: 32,
                  failed: 0,
                },
            replicates: [],
            skipped_because: null,
            log_path: null,
          });
        }
  sweeps.begin({
    sweep_id: sweepId,
    tool_version: "bench",
    started_at: new Date().toISOString(),
    spec: { provider: "llama-server", objective: "throughput", budgets: { max_ttft_p95_ms: 2000 } },
    planned_cells: cells.length,
  });
  for (const c of cells) sweeps.addCell(sweepId, c);
  sweeps.finish(sweepId, "completed", null, null);

  const tunes = store.tunes();
  tunes.begin({
    tune_id: tuneId,
    tool_version: "bench",
    started_at: new Date().toISOString(),
    spec: { settings: { objective: "throughput" } },
  });
  let best = 0;
  for (let i = 0; i < trialCount; i++) {
    const value = 50 + 50 * (1 - Math.exp(-i / (trialCount / 4))) * random();
    const failed = random() < 0.1;
    best = Math.max(best, failed ? best : value);
    const trial: TrialRecord = {
      index: i,
      stage: "search",
      kind: i === 0 ? "baseline" : "candidate",
      configuration: { parallel: 2 ** (i % 5), batch: 256 * 2 ** (i % 4), threads: 1 + (i % 8) },
      replicates: [0, 1, 2].map(() => ({
        status: failed ? "oom" : "ok",
        feasible: !failed,
        reason: failed ? "oom" : null,
        output_tokens_per_s: failed ? null : value * (1 + 0.02 * random()),
        ttft_p95_ms: failed ? null : 200,
        itl_p95_ms: failed ? null : 20,
        requests_per_s: failed ? null : 1,
        goodput_rps: failed ? null : 1,
        run_id: null,
      })),
      status: failed ? "failed" : "feasible",
      failure: failed ? "oom" : null,
      reason: failed ? "oom" : null,
      value: failed ? null : value,
      ttft_p95_ms: failed ? null : 200,
      spread: failed ? null : 0.02,
      reference: 50,
      elapsed_ms: 1000,
    };
    tunes.addTrial(tuneId, trial);
  }
  tunes.finish(tuneId, "completed", "budget", {
    recipe_hash: "sha256:0",
    recommendation: { knobs: { parallel: 16 }, command: "llama-server -np 16", env: {}, bench_command: null },
    evidence: {
      objective_unit: "tok/s",
      best: { value: best, trial: 0 },
      baseline: { value: 50 },
      gain: best / 50 - 1,
    },
  });
  store.close();
}

const inProcess: number[] = [];
for (let i = 0; i < repeats; i++) {
  const store = RunStore.open(db);
  const start = performance.now();
  renderReportHtml(
    await collectReportData(store.history(), [], {
      sweeps: [store.sweeps().get(sweepId)],
      tunes: [await store.tunes().get(tuneId)],
    }),
  );
  inProcess.push(performance.now() - start);
  store.close();
}
const cli: number[] = [];
for (let i = 0; i < repeats; i++) {
  const start = performance.now();
  const r = spawnSync(process.execPath, [
    CLI,
    "report",
    sweepId,
    tuneId,
    "--out",
    out,
    "--force",
    "--db",
    db,
  ]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  cli.push(performance.now() - start);
}
const size = statSync(out).size;
const { ms: render, charts } = await timeReportRender(out, repeats);
const grid = `${ctxs.length} ctx x ${parallels.length} parallel x ${concurrencies.length} concurrency x ${prompts.length} prompt lengths`;
console.log(
  `report of a ${(ctxs.length * parallels.length * concurrencies.length * 2).toLocaleString("en-US")}-cell sweep (${grid}) and a ${trialCount}-trial tune:`,
);
console.log(`  size ${(size / 2 ** 20).toFixed(2)} MiB (${size} bytes)`);
console.log(
  `  generated in ${(median(inProcess) / 1000).toFixed(2)} s in-process, ${(median(cli) / 1000).toFixed(2)} s by \`tokbench report\` with process start (medians of ${repeats})`,
);
console.log(
  `  rendered by headless Chromium, open to ${charts} charts drawn: ${(median(render) / 1000).toFixed(2)} s (median of ${repeats})`,
);
if (values.keep !== undefined) copyFileSync(out, values.keep);
rmSync(dir, { recursive: true, force: true });
