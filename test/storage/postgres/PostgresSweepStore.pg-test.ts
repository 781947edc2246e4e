import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { CellResult, ReplicateResult, SweepTiming } from "../../../src/results/SweepResult.js";
import { PostgresStore } from "../../../src/storage/postgres/PostgresStore.js";
import { type Claimant, PostgresSweepStore } from "../../../src/storage/postgres/PostgresSweepStore.js";
import { sampleMachine } from "../fixtures/sampleRun.js";
import { freshDatabase } from "./fixtures/postgresServer.js";

const TIMING: SweepTiming = {
  wall_ms: 10,
  measuring_ms: 5,
  launching_ms: 2,
  warmup_ms: 1,
  stopping_ms: 1,
  other_ms: 1,
  launches: 1,
};

function cell(index: number): CellResult {
  return {
    index,
    key: `k${index}`,
    knobs: { ctx: 2048 },
    workload: { concurrency: index + 1, prompt_tokens: 8, max_tokens: 4 },
    status: "skipped",
    reason: "test",
    failure: null,
    memory_failure: false,
    notes: [],
    run_id: null,
    run_ids: [],
    summary: null,
    replicates: [],
    skipped_because: null,
    log_path: null,
  };
}

function replicate(runId: string): ReplicateResult {
  return {
    replicate: 0,
    run_id: runId,
    feasible: true,
    errors: false,
    reason: null,
    figures: null,
    checks: [],
    notes: [],
  } as unknown as ReplicateResult;
}

async function setUp(label: string, cells: number, machineClass: string | null) {
  const store = await PostgresStore.open(await freshDatabase(label));
  const sweeps = new PostgresSweepStore(store);
  await sweeps.create({
    sweep_id: `sweep-${label}`,
    tool_version: "test",
    started_at: new Date().toISOString(),
    spec: { test: true },
    cells: Array.from({ length: cells }, (_, i) => ({ key: `k${i}`, index: i, configuration: i % 2 })),
    machine_class: machineClass,
  });
  return { store, sweeps, sweepId: `sweep-${label}` };
}

const worker = (name: string, leaseMs = 60_000, machineClass = "mc-a"): Claimant => ({
  worker: name,
  machine_class: machineClass,
  lease_ms: leaseMs,
});

describe("PostgresSweepStore: the work queue of a distributed sweep", () => {
  it("concurrent claims never hand out one cell twice; the last cell finished completes the sweep", async () => {
    const { store, sweeps, sweepId } = await setUp("claims", 12, "mc-a");
    try {
      // 12 claims at once over the pool's 4 connections: SKIP LOCKED hands each a different cell.
      const claims = await Promise.all(
        Array.from({ length: 12 }, (_, i) => sweeps.claim(worker(`w${i}`), { sweep_id: sweepId })),
      );
      const keys = claims.map((c) => c?.cell_key);
      assert.equal(new Set(keys).size, 12, JSON.stringify(keys));
      assert.equal(await sweeps.claim(worker("late"), { sweep_id: sweepId }), null);
      // A worker of another class gets nothing, and has no work waiting for it.
      assert.equal(await sweeps.workLeft("mc-other", sweepId), false);
      assert.equal(await sweeps.workLeft("mc-a", sweepId), true);
      for (const [i, claim] of claims.entries()) {
        assert.ok(claim);
        assert.equal(await sweeps.finishCell(claim, worker(`w${i}`), cell(claim.idx), TIMING), true);
      }
      const stored = await sweeps.get(sweepId);
      assert.equal(stored.status, "completed");
      assert.equal(stored.cells.length, 12);
      assert.deepEqual(stored.queue, { queued: 0, leased: 0, done: 12, reclaims: 0 });
      assert.equal((stored.timing as SweepTiming).launches, 12);
      assert.equal(await sweeps.workLeft("mc-a", sweepId), false);
    } finally {
      await store.close();
    }
  });

  it("prefers the configuration a worker has running, then the lightest cell", async () => {
    const { store, sweeps, sweepId } = await setUp("prefer", 6, null);
    try {
      const first = await sweeps.claim(worker("w"), { sweep_id: sweepId });
      assert.equal(first?.idx, 0);
      const next = await sweeps.claim(worker("w", 60_000, "mc-any"), {
        sweep_id: sweepId,
        prefer: { sweep_id: sweepId, configuration: 1 },
      });
      assert.equal(next?.idx, 1);
      assert.equal(next?.configuration, 1);
      const then = await sweeps.claim(worker("w"), { prefer: { sweep_id: sweepId, configuration: 1 } });
      assert.equal(then?.idx, 3);
    } finally {
      await store.close();
    }
  });

  it("a lease that runs out is taken over; the old holder's writes are refused and its run is closed", async () => {
    const { store, sweeps, sweepId } = await setUp("lease", 1, "mc-a");
    try {
      const dead = worker("dead", 300);
      const claim = await sweeps.claim(dead, { sweep_id: sweepId });
      assert.ok(claim);
      await store.beginRun({
        run_id: "run-dead",
        started_at: new Date().toISOString(),
        config: { sweep_id: sweepId },
        machine: sampleMachine(),
        tool_version: "test",
      });
      assert.equal(await sweeps.setRun(claim, dead, "run-dead"), true);
      // Renewed, the lease holds: nobody else may claim the cell.
      assert.equal(await sweeps.renew(claim, dead), true);
      assert.equal(await sweeps.claim(worker("alive"), { sweep_id: sweepId }), null);
      await sleep(450);
      const alive = worker("alive");
      const taken = await sweeps.claim(alive, { sweep_id: sweepId });
      assert.equal(taken?.cell_key, claim.cell_key);
      assert.equal(taken?.claims, 2);
      assert.equal(taken?.taken_from, "dead");
      assert.equal(taken?.interrupted_run, "run-dead");
      const run = await store.query("read", "SELECT status, status_reason FROM runs WHERE id = 'run-dead'");
      assert.equal(run.rows[0]?.status, "interrupted");
      assert.match(String(run.rows[0]?.status_reason), /worker dead lost its lease/);
      // The old holder, back from the dead, can no longer renew, store a replicate nor finish.
      assert.equal(await sweeps.renew(claim, dead), false);
      assert.equal(await sweeps.addReplicate(claim, dead, replicate("run-dead")), false);
      assert.equal(await sweeps.finishCell(claim, dead, cell(0), TIMING), false);
      assert.ok(taken);
      assert.equal(await sweeps.finishCell(taken, alive, cell(0), TIMING), true);
      const stored = await sweeps.get(sweepId);
      assert.equal(stored.status, "completed");
      assert.equal(stored.cells.length, 1);
      assert.equal(stored.pending_replicates.size, 0);
      assert.equal(stored.queue?.reclaims, 1);
    } finally {
      await store.close();
    }
  });

  it("a cell given back is claimed again at once; an aborted sweep hands out nothing until resumed", async () => {
    const { store, sweeps, sweepId } = await setUp("release", 2, null);
    try {
      const a = worker("a");
      const claim = await sweeps.claim(a, { sweep_id: sweepId });
      assert.ok(claim);
      await sweeps.release(claim, a);
      assert.equal((await sweeps.claim(worker("b"), { sweep_id: sweepId }))?.cell_key, claim.cell_key);
      await sweeps.abort(sweepId, "test");
      assert.equal(await sweeps.claim(worker("c"), { sweep_id: sweepId }), null);
      assert.equal(await sweeps.workLeft("mc-a", sweepId), false);
      assert.equal((await sweeps.get(sweepId)).status, "aborted");
      await sweeps.resume(sweepId);
      assert.equal((await sweeps.claim(worker("c"), { sweep_id: sweepId }))?.idx, 1);
    } finally {
      await store.close();
    }
  });
});
