/**
 * `tokbench sweep` against the simulated llama-server (`tokbench mock --simulate`, a test double:
 * see docs/simulated-server.md), launched through `--server-cmd` exactly as a real llama-server
 * command line would be. The simulation has a memory budget, so its out-of-memory exits (at start,
 * and under load when sequences' compute buffers no longer fit) are llama.cpp's own log lines and
 * exit codes, and its speed depends on slots and queueing, so the TTFT gate has real work to do.
 *
 * Memory of the shape used here (the simulation's defaults: 400 MiB of weights, 12,288 bytes of f16
 * KV cache a token) on a 600 MiB budget with 40 MiB per active sequence:
 *   ctx  2048: 424 MiB at start, +40 MiB per active sequence: 4 slots busy = 584 MiB, fits
 *   ctx  8192: 496 MiB at start: 1 sequence fits (536), 3 at once do not (616): OOM under load
 *   ctx 32768: 784 MiB at start: OOM before it is ready
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { findProcesses } from "../servers/fixtures/findProcesses.js";
import { completedRunsPerCell, finishedCells } from "../sweep/fixtures/finishedCells.js";
import { CLI, runCli, startCli, waitFor } from "./runCli.js";

interface JsonCell {
  index: number;
  key: string;
  knobs: Record<string, number>;
  workload: { concurrency: number };
  status: string;
  reason: string | null;
  failure: string | null;
  memory_failure: boolean;
  notes: { status: number | null; error: string }[];
  run_id: string | null;
  skipped_because: number | null;
  log_path: string | null;
  summary: { ttft_ms: { p95: number } } | null;
}

/** Pids of the simulated servers carrying `marker` as one argument (their own argv, not a shell's). */
function serversWith(marker: string): Promise<number[]> {
  return findProcesses((argv) => argv.includes(marker) && argv.includes("--simulate"));
}

/** Watches /proc until stopped: every server pid seen, and the most alive at one time. */
function watchServers(marker: string): { stop(): Promise<{ seen: Set<number>; most: number }> } {
  const seen = new Set<number>();
  let most = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const now = await serversWith(marker);
      for (const pid of now) seen.add(pid);
      most = Math.max(most, now.length);
      await sleep(10);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { seen, most };
    },
  };
}

async function noneLeft(marker: string, timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let left = await serversWith(marker);
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(100);
    left = await serversWith(marker);
  }
  return left;
}

/** The simulated server as a `--server-cmd` template; `marker` is its alias, to find it in /proc. */
function simulatedServer(marker: string, extra: string): string {
  return `${process.execPath} ${CLI} mock --simulate --port {port} --alias ${marker} --startup-ms 200 ${extra}`;
}

describe("tokbench sweep on the simulated llama-server", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-sweep-sim-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("out of memory at start and under load: classified from the server's own lines, heavier cells skipped; the TTFT gate skips nothing; one server at a time", async () => {
    const marker = `sim-${process.pid}-oom`;
    const watch = watchServers(marker);
    const run = await runCli([
      "sweep",
      "--server-cmd",
      simulatedServer(
        marker,
        "--ctx-size {ctx} --parallel {parallel} --memory-budget-mib 600 --seq-buffer-mib 40 --prefill-tps 600 --decode-tps 60",
      ),
      "--knob",
      "ctx=2048,8192,32768",
      "--knob",
      "parallel=1,4",
      "--concurrency",
      "1,4,8",
      "--prompt-tokens",
      "32",
      "--max-tokens",
      "16",
      "--requests",
      "8",
      "--model",
      marker,
      "--max-ttft-p95-ms",
      "500",
      "--stop-grace",
      "3",
      "--json",
      "--no-progress",
      "--db",
      join(dir, "oom.sqlite"),
    ]);
    const { seen, most } = await watch.stop();
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      status: string;
      cells: JsonCell[];
      timing: { launches: number };
    };
    assert.equal(result.status, "completed");
    assert.equal(result.cells.length, 18);
    const at = (ctx: number, parallel: number, concurrency: number): JsonCell => {
      const found = result.cells.find(
        (c) => c.knobs.ctx === ctx && c.knobs.parallel === parallel && c.workload.concurrency === concurrency,
      );
      assert.ok(found, `no cell ctx=${ctx} parallel=${parallel} concurrency=${concurrency}`);
      return found;
    };

    // ctx 32768 cannot load: every cell of its one launch fails as oom with llama.cpp's lines.
    const startOom = [1, 4, 8].map((c) => at(32768, 1, c));
    for (const cell of startOom) {
      assert.equal(cell.status, "failed", JSON.stringify(cell));
      assert.equal(cell.failure, "oom");
      assert.match(cell.reason ?? "", /failed to allocate|unable to load model/);
      assert.equal(cell.run_id, null);
    }
    // The lightest cell of the launch carries the memory failure that skips heavier configurations.
    assert.equal(startOom[0]?.memory_failure, true);
    const log = await readFile(startOom[0]?.log_path as string, "utf8");
    assert.match(log, /failed to allocate buffer for kv cache/);
    assert.match(log, /main: error: unable to load model/);

    // ctx 8192 with 4 slots loads and serves one sequence, then dies (exit 134) when a third
    // sequence's buffer does not fit: that cell fails as oom, and the heavier one is skipped.
    assert.equal(at(8192, 4, 1).status, "feasible", JSON.stringify(at(8192, 4, 1)));
    const loadOom = at(8192, 4, 4);
    assert.equal(loadOom.status, "failed", JSON.stringify(loadOom));
    assert.equal(loadOom.failure, "oom");
    assert.equal(loadOom.memory_failure, true);
    assert.match(loadOom.reason ?? "", /failed to allocate/);
    assert.match(await readFile(loadOom.log_path as string, "utf8"), /GGML_ASSERT/);
    const afterLoadOom = at(8192, 4, 8);
    assert.equal(afterLoadOom.status, "skipped");
    assert.equal(afterLoadOom.skipped_because, loadOom.index);
    assert.equal(afterLoadOom.run_id, null);

    // ctx 32768 with 4 slots is heavier than a configuration that could not even start: never launched.
    const failedIndexes = new Set([...startOom, loadOom].map((c) => c.index));
    for (const c of [1, 4, 8]) {
      const cell = at(32768, 4, c);
      assert.equal(cell.status, "skipped", JSON.stringify(cell));
      assert.ok(failedIndexes.has(cell.skipped_because as number), JSON.stringify(cell));
    }

    // The gate: one slot queues 4 requests (the 4th waits ~0.9 s), four slots serve them at once.
    // Too slow is infeasible, and being too slow skips nothing: ctx 8192 with one slot is measured.
    for (const ctx of [2048, 8192]) {
      const queued = at(ctx, 1, 4);
      assert.equal(queued.status, "infeasible", JSON.stringify(queued));
      assert.match(queued.reason ?? "", /TTFT p95 .* > 500 ms/);
      assert.equal(at(ctx, 1, 1).status, "feasible", JSON.stringify(at(ctx, 1, 1)));
      assert.notEqual(at(ctx, 1, 8).status, "skipped");
      assert.notEqual(at(ctx, 1, 8).run_id, null);
    }
    assert.equal(at(2048, 4, 4).status, "feasible", JSON.stringify(at(2048, 4, 4)));
    assert.equal(at(2048, 4, 8).status === "skipped", false, "2048 with 4 slots fits at any load");

    // One launch per configuration that was not skipped (2048 x2, 8192 x2, 32768 x1), never two at once.
    assert.equal(result.timing.launches, 5);
    assert.ok(seen.size >= 2, `the watcher saw ${seen.size} servers: it does not see them`);
    assert.equal(most, 1, "two servers of the sweep were alive at once");
    assert.deepEqual(await noneLeft(marker, 2000), []);
  });

  it("SIGKILL of tokbench: no simulated server survives; --resume runs only the unfinished cells", async () => {
    const marker = `sim-${process.pid}-kill`;
    const db = join(dir, "kill.sqlite");
    const started = startCli([
      "sweep",
      "--server-cmd",
      simulatedServer(marker, "--parallel {parallel} --prefill-tps 600 --decode-tps 60"),
      "--knob",
      "parallel=1,2",
      "--concurrency",
      "1,2,3",
      "--prompt-tokens",
      "16",
      "--max-tokens",
      "8",
      "--requests",
      "4",
      "--model",
      marker,
      "--stop-grace",
      "3",
      "--no-progress",
      "--db",
      db,
    ]);
    await waitFor("two finished cells", () => finishedCells(db).length >= 2, 90_000);
    const before = finishedCells(db);
    assert.ok(before.length < 6, `the sweep finished before it was killed: ${started.stderr()}`);
    const alive = await serversWith(marker);
    started.child.kill("SIGKILL");
    await started.done;
    assert.ok(alive.length <= 1);
    assert.deepEqual(await noneLeft(marker), [], "a simulated server outlived the SIGKILL of tokbench");

    const id = (() => {
      const conn = new Database(db, { readonly: true });
      try {
        return (conn.prepare("SELECT id AS sweep_id FROM sweeps").get() as { sweep_id: string }).sweep_id;
      } finally {
        conn.close();
      }
    })();
    const resumed = await runCli(["sweep", "--resume", id, "--db", db, "--json", "--no-progress"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const result = JSON.parse(resumed.stdout) as { status: string; cells: JsonCell[] };
    assert.equal(result.status, "completed");
    assert.equal(result.cells.length, 6);
    for (const b of before) {
      const cell = result.cells.find((c) => c.key === b.cell_key);
      assert.equal(cell?.run_id, b.run_id, "a finished cell was measured again");
    }
    for (const cell of result.cells) assert.equal(cell.status, "feasible", JSON.stringify(cell));
    // Every cell has exactly one completed run: none measured twice, none lost.
    const perCell = completedRunsPerCell(db);
    assert.equal(perCell.size, 6);
    for (const [cell, n] of perCell) assert.equal(n, 1, `cell ${cell} has ${n} completed runs`);
    assert.deepEqual(await noneLeft(marker, 2000), []);
  });

  it("--dry-run of 1,000 cells of the simulated server launches nothing", async () => {
    const marker = `sim-${process.pid}-dry`;
    const db = join(dir, "dry.sqlite");
    const watch = watchServers(marker);
    const run = await runCli([
      "sweep",
      "--server-cmd",
      simulatedServer(marker, "--ctx-size {ctx} --parallel {parallel}"),
      "--knob",
      "ctx=1024-10240+1024",
      "--knob",
      "parallel=1-10",
      "--concurrency",
      "1-10",
      "--dry-run",
      "--json",
      "--db",
      db,
    ]);
    const { seen } = await watch.stop();
    assert.equal(run.code, 0, run.stderr);
    const plan = JSON.parse(run.stdout);
    assert.equal(plan.cells, 1000);
    assert.equal(plan.launches, 100);
    assert.equal(seen.size, 0, "a dry run launched a server");
    assert.equal(existsSync(db), false);
  });
});
