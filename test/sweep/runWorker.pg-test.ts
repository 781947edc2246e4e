import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { postgresRunStorage } from "../../src/cli/commands/worker/postgresRunStorage.js";
import { MockServer } from "../../src/mock/MockServer.js";
import { PostgresStore } from "../../src/storage/postgres/PostgresStore.js";
import { PostgresSweepStore } from "../../src/storage/postgres/PostgresSweepStore.js";
import { attachedLauncher } from "../../src/sweep/attachedLauncher.js";
import { planSweep } from "../../src/sweep/planSweep.js";
import { type SweepSpec, sweepSpec } from "../../src/sweep/SweepSpec.js";
import { runWorker } from "../../src/sweep/worker/runWorker.js";
import { collectMachineInfo } from "../../src/system/machineInfo.js";
import { freshDatabase } from "../storage/postgres/fixtures/postgresServer.js";

describe("runWorker against PostgreSQL", () => {
  it("a worker whose cell is taken from it mid-measurement stores nothing of it, and takes it back once that lease runs out", async () => {
    const mock = new MockServer({ ttftMs: 5, itlMs: 20 });
    const url = await mock.start();
    const store = await PostgresStore.open(await freshDatabase("run_worker"));
    try {
      const spec = sweepSpec({
        provider: "url",
        url,
        model: "m",
        knob_axes: [],
        workload: { concurrency: [1, 2], prompt_tokens: [16], max_tokens: [8] },
        requests: 10,
      }) as SweepSpec & { url: string; model: string };
      const plan = planSweep(spec);
      const sweeps = new PostgresSweepStore(store);
      await sweeps.create({
        sweep_id: "sweep-w",
        tool_version: "test",
        started_at: new Date().toISOString(),
        spec,
        cells: plan.cells.map((c) => ({ key: c.key, index: c.index, configuration: c.configuration })),
        machine_class: null,
      });
      const who = { worker: "w1", machine_class: "mc-test", lease_ms: 600 };
      let stolen: string | null = null;
      const events: string[] = [];
      const outcome = await runWorker({
        queue: sweeps,
        who,
        sweep_id: "sweep-w",
        machine: await collectMachineInfo(),
        equip: async (s) => ({ launcher: attachedLauncher(s as typeof spec), checkFit: () => null }),
        runHooks: postgresRunStorage(store),
        poll_ms: 100,
        events: {
          onClaim: (claim) => {
            events.push(`claim ${claim.idx}${claim.taken_from === null ? "" : ` from ${claim.taken_from}`}`);
            if (stolen !== null) return;
            stolen = claim.cell_key;
            // Another worker takes the cell over while this one measures it (as after a lease that
            // ran out during a network partition): this worker's next renewal is refused.
            setTimeout(() => {
              void store.query(
                "steal",
                `UPDATE sweep_queue SET worker = 'thief', lease_until_ms = (EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT + 300 WHERE cell_key = $1`,
                [claim.cell_key],
              );
            }, 300);
          },
          onLeaseLost: (claim) => events.push(`lost ${claim.idx}`),
          // Measured (the gate's verdict may be "infeasible" on a loaded machine: buffered streams).
          onCell: (claim, cell) =>
            events.push(`done ${claim.idx} ${cell.status === "feasible" || cell.status === "infeasible"}`),
        },
      });
      assert.deepEqual(events, [
        "claim 0",
        "lost 0",
        "claim 1",
        "done 1 true",
        "claim 0 from thief",
        "done 0 true",
      ]);
      assert.deepEqual(outcome, { status: "done", cells: 2, taken_over: 1, lost: 1, launches: 1 });
      const stored = await sweeps.get("sweep-w");
      assert.equal(stored.status, "completed");
      assert.deepEqual(
        stored.cells.map((c) => [c.index, c.replicates.length]),
        [
          [0, 1],
          [1, 1],
        ],
      );
      assert.deepEqual(stored.queue, { queued: 0, leased: 0, done: 2, reclaims: 1 });
    } finally {
      await store.close();
      await mock.close();
    }
  });
});
