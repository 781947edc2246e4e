/**
 * Speed and memory of reading the run history back.
 *
 *   node dist/bench/history.js [--runs 10000] [--requests 100000] [--repeats 5] [--list-db FILE]
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
import { existsSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { median } from "../src/stats/descriptive.js";
import { RunStore } from "../src/storage/RunStore.js";
import type { SqliteRunHistory } from "../src/storage/SqliteRunHistory.js";
import { collectMachineInfo } from "../src/system/machineInfo.js";
import { parseBenchArgs } from "./benchArgs.js";
import { syntheticRun } from "./syntheticRun.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["runs", "requests", "repeats"],
  options: {
    runs: { type: "string", default: "10000" },
    requests: { type: "string", default: "100000" },
    repeats: { type: "string", default: "5" },
    "list-db": { type: "string" },
  },
});
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const PEAK = fileURLToPath(new URL("./peakRssAtExit.js", import.meta.url));
const EAGER = fileURLToPath(new URL("./loadAllCommands.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tokbench-history-bench-"));
const machine = await collectMachineInfo();
const run = (id: string, startedAt: string, requests: number) =>
  syntheticRun(machine, id, startedAt, requests);

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
// --list-db FILE keeps the database of `--runs` runs (storing them takes minutes on a busy machine)
// and reuses it when it already holds them.
const listDb = values["list-db"] ?? join(dir, "runs.sqlite");
const stored = existsSync(listDb) ? RunStore.open(listDb) : null;
const already = stored === null ? 0 : (await stored.history().listRuns({ limit: 1 })).total;
stored?.close();
if (already !== runs && already !== 0) throw new Error(`${listDb} holds ${already} runs, not ${runs}`);
if (already === 0) {
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
    ["--tag nightly --model model-1, newest 20", { limit: 20, tag: "nightly", model: "model-1" }],
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
// Interleaved (floor, then each command, in every round) so that the machine's load at the time
// weighs on all of them alike; on a shared machine the figure beside the floor is the one to read.
const COMMANDS = [
  ["runs (newest 20)", ["runs"]],
  ["[reference] runs (newest 20), every command module loaded first", ["--import", EAGER, "runs"]],
  ["runs --tag nightly --model model-1", ["runs", "--tag", "nightly", "--model", "model-1"]],
  ["runs --limit 0 --json (every run)", ["runs", "--limit", "0", "--json"]],
] as const;
const floorTimes: number[] = [];
const commandTimes: number[][] = COMMANDS.map(() => []);
for (let r = 0; r < repeats; r++) {
  floorTimes.push(timeCommand(["-e", ""]).ms);
  COMMANDS.forEach(([, args], i) => {
    const nodeArgs = args[0] === "--import" ? args.slice(0, 2) : [];
    commandTimes[i]?.push(timeCommand([...nodeArgs, CLI, ...args.slice(nodeArgs.length), "--db", listDb]).ms);
  });
}
const floor = median(floorTimes);
console.log(`node -e '' (process start, the floor of any command): median ${floor.toFixed(0)} ms`);
COMMANDS.forEach(([label], i) => {
  const times = commandTimes[i] as number[];
  console.log(
    `${label} over ${runs} runs: median ${median(times).toFixed(0)} ms of ${repeats} (min ${Math.min(...times).toFixed(0)}; ${(median(times) - floor).toFixed(0)} ms beyond process start; target < 300 ms)`,
  );
});

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
