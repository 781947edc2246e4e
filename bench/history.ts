/**
 * Speed and memory of reading the run history back.
 *
 *   node dist/bench/history.js [--runs 10000] [--requests 100000] [--repeats 5]
 *
 * 1. `tokbench runs` over a database of `--runs` stored runs (each finished, with tags, a headline
 *    and 5 requests): wall time of the whole command, process start included (target < 300 ms), for
 *    the default listing (newest 20), a filtered one and `--limit 0 --json` (every run); the median
 *    of `--repeats`; and `node -e ''` alone, the floor any command pays.
 * 2. `tokbench show RUN --json` of a run of `--requests` requests into /dev/null: time and the
 *    process's peak RSS, beside the same for a run a tenth the size. Streaming means the peak does
 *    not grow with the run (the records are read and printed one at a time).
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { RequestRecord } from "../src/results/RequestRecord.js";
import { RequestTable } from "../src/results/RequestTable.js";
import type { RunResult } from "../src/results/RunResult.js";
import { median } from "../src/stats/descriptive.js";
import { StatsAccumulator } from "../src/stats/StatsAccumulator.js";
import { RunStore } from "../src/storage/RunStore.js";
import type { SqliteRunHistory } from "../src/storage/SqliteRunHistory.js";
import { collectMachineInfo } from "../src/system/machineInfo.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10000" },
    requests: { type: "string", default: "100000" },
    repeats: { type: "string", default: "5" },
  },
});
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const PEAK = fileURLToPath(new URL("./peakRssAtExit.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tokbench-history-bench-"));
const machine = await collectMachineInfo();

function record(i: number): RequestRecord {
  const ttft = 20 + (i % 17);
  return {
    index: i,
    planned_offset_ms: i,
    sent_offset_ms: i + 0.1,
    dispatch_lag_ms: 0.1,
    status: 200,
    ttft_ms: ttft,
    e2e_ms: ttft + 320,
    decode_ms: 320,
    prompt_tokens: 128,
    output_tokens: 33,
    token_source: "usage",
    chunks: 33,
    decode_tps: 100,
    decode_tps_source: "client",
    tpot_ms: 10,
    prefill_tps: 128000 / ttft,
    flags: [],
    error: null,
    server_timings: null,
  };
}

function run(id: string, startedAt: string, requests: number): RunResult {
  const table = new RequestTable();
  const ttft = new StatsAccumulator();
  for (let i = 0; i < requests; i++) {
    const r = record(i);
    table.push(r);
    ttft.add(r.ttft_ms as number);
  }
  const d = ttft.stats();
  return {
    schema_version: 1,
    tool: { name: "tokbench", version: "bench" },
    run_id: id,
    status: "completed",
    status_reason: null,
    started_at: startedAt,
    ended_at: startedAt,
    config: {
      target: "openai-chat",
      model: `model-${id.length % 3}`,
      workload: { prompt_tokens: 128, max_tokens: 33 },
      load: { concurrency: 4 },
    },
    machine,
    summary: {
      requests: { total: requests, succeeded: requests, failed: 0, cancelled: 0, errors_by_code: {} },
      ttft_ms: d,
      e2e_ms: d,
      itl_ms: d,
      chunk_gap_ms: d,
      tpot_ms: d,
      decode_tps: d,
      prefill_tps: d,
      dispatch_lag_ms: d,
      output_tokens_per_s: 1000,
      requests_per_s: 30,
      input_tokens_per_s: 4000,
      duration_ms: 1000,
      total_output_tokens: 33 * requests,
      total_prompt_tokens: 128 * requests,
      flags: {},
      token_sources: { usage: requests },
      server_prefill_tps: d,
      server_decode_tps: d,
    },
    requests: table,
    tests: [],
    resources: null,
    distributions: {
      encoding: "hdr-v2-base64",
      value_scale: 1000,
      histograms: { ttft_ms: ttft.encodedHistogram() as string },
    },
  };
}

function timeCommand(args: string[]): { ms: number; peakKb: number } {
  const devnull = openSync("/dev/null", "w");
  const start = performance.now();
  const child = spawnSync(process.execPath, ["--import", PEAK, ...args], {
    stdio: ["ignore", devnull, "pipe"],
  });
  const ms = performance.now() - start;
  const peak = /PEAK-RSS-KB (\d+)/.exec(child.stderr.toString())?.[1];
  if (child.status !== 0)
    throw new Error(`${args.join(" ")}: exit ${child.status}: ${child.stderr.toString()}`);
  return { ms, peakKb: Number(peak) };
}

const runs = Number(values.runs);
const repeats = Number(values.repeats);
const listDb = join(dir, "runs.sqlite");
{
  const store = RunStore.open(listDb);
  const t0 = Date.parse("2024-01-01T00:00:00Z");
  const start = performance.now();
  for (let i = 0; i < runs; i++) {
    store.finishRun(
      run(
        `run-${String(i).padStart(6, "0")}-${"x".repeat(i % 3)}`,
        new Date(t0 + i * 60_000).toISOString(),
        5,
      ),
      { tags: i % 10 === 0 ? ["nightly"] : [] },
    );
  }
  store.close();
  console.log(`stored ${runs} runs in ${((performance.now() - start) / 1000).toFixed(1)} s`);
}
{
  // The query alone, in this process: what `runs` costs beyond starting Node and loading the CLI.
  const store = RunStore.open(listDb);
  const history = store.history() as SqliteRunHistory;
  for (const [label, filter] of [
    ["newest 20", { limit: 20 }],
    ["every run", {}],
  ] as const) {
    const times = Array.from({ length: repeats }, () => {
      const start = performance.now();
      history.listRunsSync(filter);
      return performance.now() - start;
    });
    console.log(`listRuns (${label}) in-process over ${runs} runs: median ${median(times).toFixed(1)} ms`);
  }
  store.close();
}
const floor = median(Array.from({ length: repeats }, () => timeCommand(["-e", ""]).ms));
console.log(`node -e '' (process start, the floor of any command): ${floor.toFixed(0)} ms`);
for (const [label, args] of [
  ["runs (newest 20)", ["runs"]],
  ["runs --tag nightly --model model-1", ["runs", "--tag", "nightly", "--model", "model-1"]],
  ["runs --limit 0 --json (every run)", ["runs", "--limit", "0", "--json"]],
] as const) {
  const times = Array.from({ length: repeats }, () => timeCommand([CLI, ...args, "--db", listDb]).ms);
  console.log(
    `${label} over ${runs} runs: median ${median(times).toFixed(0)} ms of ${repeats} (min ${Math.min(...times).toFixed(0)}, target < 300 ms)`,
  );
}

const requests = Number(values.requests);
for (const n of [Math.round(requests / 10), requests]) {
  const db = join(dir, `show-${n}.sqlite`);
  const store = RunStore.open(db);
  store.finishRun(run(`big-${n}`, new Date().toISOString(), n));
  store.close();
  const r = timeCommand([CLI, "show", `big-${n}`, "--json", "--db", db]);
  console.log(
    `show --json of a ${n}-request run into /dev/null: ${(r.ms / 1000).toFixed(2)} s, peak RSS ${(r.peakKb / 1024).toFixed(0)} MB`,
  );
}
rmSync(dir, { recursive: true, force: true });
