/**
 * A sweep spread over several workers: `tokbench sweep --db postgres://... --queue-only` queues it,
 * three `tokbench worker` processes on this machine work on it against one real PostgreSQL, one is
 * killed with SIGKILL while it measures a cell, and the sweep still ends with every cell measured
 * exactly once: the killed worker's cell is taken over once its lease runs out. The servers are the
 * simulated llama-server (`tokbench mock --simulate`, a test double; docs/simulated-server.md),
 * launched through `--server-cmd` as a real llama-server would be.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { PostgresStore } from "../../src/storage/postgres/PostgresStore.js";
import { findProcesses } from "../servers/fixtures/findProcesses.js";
import { freshDatabase, serverPassword } from "../storage/postgres/fixtures/postgresServer.js";
import { CLI, runCli, type StartedCli, startCli } from "./runCli.js";

const LEASE_S = 2;
const WORKERS = 3;

function simulatedServer(marker: string): string {
  return `${process.execPath} ${CLI} mock --simulate --port {port} --alias ${marker} --startup-ms 150 --ctx-size {ctx} --parallel {parallel} --prefill-tps 4000 --decode-tps 60`;
}

/** Pids of the simulated servers carrying `marker`. */
function serversWith(marker: string): Promise<number[]> {
  return findProcesses((argv) => argv.includes(marker) && argv.includes("--simulate"));
}

describe("tokbench worker: one sweep, three workers, one killed mid-cell", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-workers-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("finishes with every cell measured exactly once; the killed worker's cell is taken over after its lease", async () => {
    const db = await freshDatabase("workers");
    const marker = `sim-${process.pid}-workers`;
    const t0 = performance.now();
    const queued = await runCli([
      "sweep",
      "--server-cmd",
      simulatedServer(marker),
      "--knob",
      "ctx=2048,4096",
      "--knob",
      "parallel=1,2",
      "--concurrency",
      "1,2,4",
      "--prompt-tokens",
      "32",
      "--max-tokens",
      "16",
      "--requests",
      "6",
      "--model",
      marker,
      "--stop-grace",
      "2",
      "--queue-only",
      "--db",
      db,
    ]);
    assert.equal(queued.code, 0, queued.stderr);
    const sweepId = queued.stdout.trim();
    assert.match(sweepId, /^[0-9a-f-]{36}$/);
    assert.match(queued.stderr, /12 cells, for workers on machines of class mc-[0-9a-f]{16}/);

    const store = await PostgresStore.open(db);
    const workers: StartedCli[] = [];
    try {
      for (let i = 0; i < WORKERS; i++) {
        workers.push(
          startCli([
            "worker",
            "--db",
            db,
            "--sweep",
            sweepId,
            "--lease",
            String(LEASE_S),
            "--poll",
            "0.3",
            "--log-dir",
            join(dir, `logs-${i}`),
          ]),
        );
      }
      // Kill the first worker once it is measuring a cell (its run is noted in the queue and its run
      // row committed: the worker notes the run and stores its row by two separate writes, in either
      // order) and at least one cell of the sweep is done: half-way through, mid-cell.
      const victim = workers[0] as StartedCli;
      const victimPid = victim.child.pid as number;
      let killed: { cell_key: string; run_id: string; at_ms: number } | null = null;
      const deadline = Date.now() + 60_000;
      while (killed === null && Date.now() < deadline) {
        const held = await store.query(
          "watch",
          `SELECT cell_key, run_id, (SELECT COUNT(*) FROM sweep_queue WHERE sweep_id = $1 AND state = 'done')::INTEGER AS done
           FROM sweep_queue q WHERE sweep_id = $1 AND state = 'leased' AND run_id IS NOT NULL AND worker LIKE $2
             AND NOT EXISTS (SELECT 1 FROM sweep_runs sr WHERE sr.sweep_id = q.sweep_id AND sr.cell_key = q.cell_key)
             AND EXISTS (SELECT 1 FROM runs r WHERE r.id = q.run_id)`,
          [sweepId, `%:${victimPid}:%`],
        );
        const row = held.rows[0] as { cell_key: string; run_id: string; done: number } | undefined;
        if (row !== undefined && row.done >= 1) {
          // Measuring: the run row exists and requests are being stored.
          victim.child.kill("SIGKILL");
          killed = { cell_key: row.cell_key, run_id: row.run_id, at_ms: performance.now() - t0 };
        } else {
          await sleep(50);
        }
      }
      assert.ok(killed, `worker ${victimPid} was never seen measuring a cell: ${victim.stderr()}`);
      const ends = await Promise.all(workers.map((w) => w.done));
      const wallS = (performance.now() - t0) / 1000;
      assert.equal(ends[0]?.signal, "SIGKILL");
      for (const end of ends.slice(1)) assert.equal(end.code, 0, end.stderr);

      // The sweep is complete: 12 cells, each stored once, each measured by one completed run.
      const cells = (
        await store.query(
          "cells",
          "SELECT cell_key, status, run_id FROM sweep_cells WHERE sweep_id = $1 ORDER BY idx",
          [sweepId],
        )
      ).rows as { cell_key: string; status: string; run_id: string }[];
      assert.equal(cells.length, 12);
      assert.equal(new Set(cells.map((c) => c.cell_key)).size, 12);
      for (const c of cells) assert.match(c.status, /^(feasible|infeasible)$/, JSON.stringify(c));
      const replicates = (
        await store.query(
          "replicates",
          "SELECT sr.cell_key, sr.run_id, r.status FROM sweep_runs sr JOIN runs r ON r.id = sr.run_id WHERE sr.sweep_id = $1",
          [sweepId],
        )
      ).rows as { cell_key: string; run_id: string; status: string }[];
      assert.equal(replicates.length, 12, "one replicate stored per cell");
      assert.equal(new Set(replicates.map((r) => r.cell_key)).size, 12);
      for (const r of replicates) assert.equal(r.status, "completed");
      // Every completed run of the sweep is a cell's replicate: nothing measured twice.
      const runs = (
        await store.query(
          "runs",
          "SELECT id, status, status_reason, (SELECT COUNT(*) FROM requests q WHERE q.run_id = r.id)::INTEGER AS stored FROM runs r WHERE config_json::jsonb ->> 'sweep_id' = $1",
          [sweepId],
        )
      ).rows as { id: string; status: string; status_reason: string | null; stored: number }[];
      const completed = runs.filter((r) => r.status === "completed");
      assert.equal(completed.length, 12);
      assert.deepEqual(new Set(completed.map((r) => r.id)), new Set(replicates.map((r) => r.run_id)));
      for (const r of completed) assert.equal(r.stored, 6, `run ${r.id} stored ${r.stored} of 6 requests`);
      // The killed worker's run is the only other one: closed as interrupted by the worker that took its cell over.
      const others = runs.filter((r) => r.status !== "completed");
      assert.deepEqual(
        others.map((r) => r.id),
        [killed.run_id],
      );
      assert.equal(others[0]?.status, "interrupted");
      assert.match(String(others[0]?.status_reason), /lost its lease/);
      const queue = (
        await store.query(
          "queue",
          "SELECT cell_key, claims, state FROM sweep_queue WHERE sweep_id = $1 ORDER BY idx",
          [sweepId],
        )
      ).rows as { cell_key: string; claims: number; state: string }[];
      for (const q of queue) {
        assert.equal(q.state, "done");
        assert.equal(q.claims, q.cell_key === killed.cell_key ? 2 : 1, JSON.stringify(q));
      }
      const takeovers = ends.slice(1).map((e) => /(\d+) taken over/.exec(e.stderr)?.[1]);
      assert.deepEqual(takeovers.map(Number).sort(), [0, 1], takeovers.join(","));
      const measured = ends.slice(1).map((e) => Number(/(\d+) cells measured/.exec(e.stderr)?.[1]));
      const victimCells = (victim.stderr().match(/: (feasible|infeasible)/g) ?? []).length;
      assert.equal((measured[0] ?? 0) + (measured[1] ?? 0) + victimCells, 12, `${measured} + ${victimCells}`);
      assert.deepEqual(await serversWith(marker), [], "a simulated server outlived its worker");

      // The report reads the distributed sweep as a local one: `sweep --resume` of a finished sweep prints it.
      const report = await runCli(["sweep", "--resume", sweepId, "--db", db, "--json", "--no-progress"]);
      assert.equal(report.code, 0, report.stderr);
      const result = JSON.parse(report.stdout) as { status: string; cells: unknown[]; planned_cells: number };
      assert.equal(result.status, "completed");
      assert.equal(result.cells.length, 12);
      assert.equal(result.planned_cells, 12);
      // --dry-run of a stored sweep plans it from the database and runs nothing.
      const plan = await runCli(["sweep", "--resume", sweepId, "--db", db, "--dry-run", "--json"]);
      assert.equal(plan.code, 0, plan.stderr);
      assert.equal((JSON.parse(plan.stdout) as { dry_run: boolean; cells: number }).cells, 12);
      const password = serverPassword();
      for (const text of [queued.stderr, report.stderr, ...ends.map((e) => e.stderr)])
        assert.ok(!text.includes(password));
      process.stdout.write(
        `# distributed sweep: 12 cells, ${WORKERS} workers, worker ${victimPid} SIGKILLed at ${(killed.at_ms / 1000).toFixed(1)} s mid-cell, ` +
          `1 re-claim after its ${LEASE_S} s lease; cells by the survivors ${measured.join("+")}, by the killed one ${victimCells}; ${wallS.toFixed(1)} s in all\n`,
      );
    } finally {
      for (const w of workers)
        if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
      await store.close();
    }
  });

  it("sweep --db postgres:// alone runs the sweep as one worker: the same cells, statuses and skips as a local sweep", async () => {
    const db = await freshDatabase("alone");
    const marker = `sim-${process.pid}-alone`;
    // The memory landscape of sweepSimulated.test.ts: ctx 8192 dies under load at concurrency 4,
    // ctx 32768 cannot start; heavier cells are skipped.
    const args = (store: string) => [
      "sweep",
      "--server-cmd",
      `${process.execPath} ${CLI} mock --simulate --port {port} --alias ${marker} --startup-ms 150 --ctx-size {ctx} --parallel {parallel} --memory-budget-mib 600 --seq-buffer-mib 40 --prefill-tps 4000 --decode-tps 120`,
      "--knob",
      "ctx=2048,8192,32768",
      "--knob",
      "parallel=4",
      "--concurrency",
      "1,4,8",
      "--prompt-tokens",
      "32",
      "--max-tokens",
      "8",
      "--requests",
      "8",
      "--model",
      marker,
      "--stop-grace",
      "2",
      "--json",
      "--no-progress",
      "--db",
      store,
    ];
    type Cell = { key: string; status: string; failure: string | null; skipped_because: number | null };
    const local = await runCli(args(join(dir, "local.sqlite")));
    assert.equal(local.code, 0, local.stderr);
    const distributed = await runCli([...args(db), "--lease", "2"]);
    assert.equal(distributed.code, 0, distributed.stderr);
    const shape = (stdout: string) => {
      const result = JSON.parse(stdout) as { status: string; cells: Cell[]; timing: { launches: number } };
      return {
        status: result.status,
        // One launch per configuration run: the worker keeps its server from one claimed cell to the next.
        launches: result.timing.launches,
        // Measured cells compare as such: on a loaded machine the gate may call a cell infeasible
        // (buffered streams) in one sweep and not the other; what must agree is what ran, failed or was skipped.
        cells: result.cells.map((c) => [
          c.key,
          c.status === "feasible" || c.status === "infeasible" ? "measured" : c.status,
          c.failure,
          c.skipped_because,
        ]),
      };
    };
    const expected = shape(local.stdout);
    assert.deepEqual(
      expected.cells.map((c) => c[1]),
      ["measured", "measured", "measured", "measured", "failed", "skipped", "failed", "skipped", "skipped"],
    );
    assert.deepEqual(shape(distributed.stdout), expected);
    assert.match(distributed.stderr, /this process measured 9 cells/);
    assert.deepEqual(await serversWith(marker), []);
  });
});
