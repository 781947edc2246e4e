import { randomUUID } from "node:crypto";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import { renderSweep } from "../../../output/terminal/renderSweep.js";
import type { SweepResult, SweepTiming } from "../../../results/SweepResult.js";
import { PostgresStore } from "../../../storage/postgres/PostgresStore.js";
import { PostgresSweepStore } from "../../../storage/postgres/PostgresSweepStore.js";
import { planSweep } from "../../../sweep/planSweep.js";
import { replayLines } from "../../../sweep/replayLines.js";
import { assertSameSweep, noTiming } from "../../../sweep/runSweep.js";
import type { SweepSpec } from "../../../sweep/SweepSpec.js";
import { buildSweepResult } from "../../../sweep/summarizeSweep.js";
import { machineClass } from "../../../sweep/worker/machineClass.js";
import { collectMachineInfo } from "../../../system/machineInfo.js";
import { terminalSafeJson } from "../../../text/sanitizeText.js";
import { TOKBENCH_VERSION } from "../../../toolVersion.js";
import { workerLogDir } from "../worker/equipSweep.js";
import { workOnPostgres } from "../worker/workOnPostgres.js";
import { dryRun, writeAtomically } from "./runSweepCommand.js";
import type { SweepArgs } from "./specFromArgs.js";

/** Seconds a claimed cell stays held without renewal, unless `--lease` says otherwise. */
export const DEFAULT_LEASE_S = 30;

/**
 * `tokbench sweep --db postgres://...`: the sweep is queued in PostgreSQL, a row per cell, for
 * `tokbench worker` processes on any machine of this one's class (`--any-machine`: any machine);
 * this process works on it too, as one more worker, unless `--queue-only`. Once no cell is left it
 * prints the grids from what the database holds, as a local sweep does, whoever measured each
 * cell. `--resume ID` works on a stored sweep again (one stopped, or whose workers all died), and
 * on a finished one just prints it. Returns the exit code: 0 completed, 130 interrupted, 1 aborted.
 */
export async function runDistributedSweep(
  args: SweepArgs,
  url: string,
  fresh: SweepSpec | null,
): Promise<number> {
  const say = (text: string) => {
    if (args.progress) process.stderr.write(text);
  };
  const lease = args.lease ?? DEFAULT_LEASE_S;
  if (!Number.isFinite(lease) || lease <= 0) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--lease must be a number of seconds above 0, not ${args.lease}`,
    );
  }
  if (fresh === null && args["any-machine"] !== undefined) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--resume continues the sweep with its stored settings: drop --any-machine",
    );
  }
  if (fresh?.provider === "embedded") {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "a sweep of the embedded engine cannot be shared with workers yet: sweep a server (--server-cmd, --server), or use a SQLite --db",
    );
  }
  const store = await PostgresStore.open(url);
  try {
    const sweeps = new PostgresSweepStore(store);
    let sweepId: string;
    let spec: SweepSpec;
    if (fresh === null) {
      const stored = await sweeps.get(args.resume as string);
      sweepId = stored.sweep_id;
      spec = stored.spec as SweepSpec;
      assertSameSweep(stored.planned_cells, planSweep(spec).cells.length);
      if (args["dry-run"]) return await dryRun(args, spec, planSweep(spec));
      if (stored.queue === null) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `sweep ${sweepId} in ${store.shownUrl} has no work queue`,
        );
      }
      await sweeps.resume(sweepId);
      say(
        `sweep ${sweepId} resumed: ${stored.cells.length} of ${stored.planned_cells} cells already done, ${stored.queue.leased} held by workers\n`,
      );
    } else {
      spec = fresh;
      sweepId = randomUUID();
      const plan = planSweep(spec);
      const required = args["any-machine"] === true ? null : machineClass(await collectMachineInfo());
      await sweeps.create({
        sweep_id: sweepId,
        tool_version: TOKBENCH_VERSION,
        started_at: new Date().toISOString(),
        spec,
        cells: plan.cells.map((c) => ({ key: c.key, index: c.index, configuration: c.configuration })),
        machine_class: required,
      });
      say(
        `sweep ${sweepId} queued in ${store.shownUrl}: ${plan.configurations.length} configurations, ${plan.cells.length} cells, ` +
          `for workers on ${required === null ? "any machine" : `machines of class ${required}`}\n`,
      );
    }
    if (args["queue-only"] === true) {
      process.stdout.write(`${sweepId}\n`);
      say(`work on it with: tokbench worker --db <this database> --sweep ${sweepId} (on each machine)\n`);
      return 0;
    }
    const work = await workOnPostgres(store, {
      sweep_id: sweepId,
      lease_s: lease,
      poll_s: Math.min(2, lease / 4),
      follow: false,
      log_dir: args["log-dir"],
      progress: args.progress,
    });
    const stored = await sweeps.get(sweepId);
    const plan = planSweep(spec);
    const status =
      work.status === "interrupted" && stored.status === "running" ? "interrupted" : stored.status;
    const result: SweepResult = buildSweepResult({
      sweep_id: sweepId,
      status,
      status_reason: status === "interrupted" ? "interrupted by the user" : stored.status_reason,
      plan,
      cells: stored.cells,
      objective: spec.objective,
      timing: (stored.timing as SweepTiming | null) ?? noTiming(),
    });
    const cellsOut = args["cells-out"];
    if (cellsOut !== undefined) {
      writeAtomically(
        cellsOut,
        replayLines(stored.cells)
          .map((line) => `${JSON.stringify(line)}\n`)
          .join(""),
      );
      say(`cells written to ${cellsOut} (replay format)\n`);
    }
    if (args.json) process.stdout.write(`${terminalSafeJson(result, 2)}\n`);
    else process.stdout.write(`${renderSweep(result)}\n`);
    process.stderr.write(
      `sweep ${sweepId} saved to ${store.shownUrl}: this process measured ${work.cells} cells; server logs of this machine in ${workerLogDir(args["log-dir"], sweepId)}\n`,
    );
    if (status === "interrupted") {
      process.stderr.write(
        `its other workers go on; continue it here with: tokbench sweep --resume ${sweepId} --db <this database>\n`,
      );
      return 130;
    }
    return status === "completed" ? 0 : 1;
  } finally {
    await store.close();
  }
}
