import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { PostgresStore } from "../../../storage/postgres/PostgresStore.js";
import { PostgresSweepStore } from "../../../storage/postgres/PostgresSweepStore.js";
import { machineClass } from "../../../sweep/worker/machineClass.js";
import { runWorker, type WorkerOutcome } from "../../../sweep/worker/runWorker.js";
import { collectMachineInfo } from "../../../system/machineInfo.js";
import { sanitizeText } from "../../../text/sanitizeText.js";
import { StopSignals } from "../../stopSignals.js";
import { cellLine } from "../sweep/runSweepCommand.js";
import { equipSweep } from "./equipSweep.js";
import { postgresRunStorage } from "./postgresRunStorage.js";

/** Options of {@link workOnPostgres}. */
export interface WorkOptions {
  /** Serve this sweep only; null: every running sweep this machine's class may serve. */
  sweep_id: string | null;
  /** How long a claim holds without renewal, in seconds. */
  lease_s: number;
  /** How long to wait before looking again when nothing can be claimed, in seconds. */
  poll_s: number;
  /** Keep waiting for new sweeps when none has work left. */
  follow: boolean;
  /** Folder for the servers' logs; defaults to tokbench's data directory. */
  log_dir: string | undefined;
  /** A line per claimed and finished cell on stderr. */
  progress: boolean;
}

/** `ctx=2048 concurrency=4`: a planned cell's point. */
function pointText(point: Readonly<Record<string, unknown>>): string {
  return Object.entries(point)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(" ");
}

/** A worker's identity: host, pid and a random part, unique even when a pid is reused. */
export function workerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * Works on the distributed sweeps of a PostgreSQL database from this process (`tokbench worker`,
 * and `tokbench sweep --db postgres://...` for its own sweep): claims cells its machine's class may
 * measure, runs them with the usual launcher and gate, stores runs and cells, until nothing is left
 * (or, with `follow`, until stopped). Ctrl-C gives the current cell back to the queue at once.
 */
export async function workOnPostgres(store: PostgresStore, options: WorkOptions): Promise<WorkerOutcome> {
  const say = (text: string) => {
    if (options.progress) process.stderr.write(sanitizeText(text));
  };
  const machine = await collectMachineInfo();
  const who = { worker: workerId(), machine_class: machineClass(machine), lease_ms: options.lease_s * 1000 };
  say(
    `worker ${who.worker} (machine class ${who.machine_class}, lease ${options.lease_s} s) on ${store.shownUrl}\n`,
  );
  const stop = StopSignals.listen();
  const storage = postgresRunStorage(store);
  let waiting = false;
  try {
    return await runWorker({
      queue: new PostgresSweepStore(store),
      who,
      sweep_id: options.sweep_id,
      machine,
      equip: (spec, sweepId) => equipSweep(spec, sweepId, options.log_dir, say),
      runHooks: storage,
      poll_ms: options.poll_s * 1000,
      follow: options.follow,
      signal: stop.signal,
      events: {
        onClaim: (claim, cell, plan) => {
          waiting = false;
          say(
            `sweep ${claim.sweep_id.slice(0, 8)}: cell ${cell.index + 1}/${plan.cells.length} (${pointText(cell.point)}) claimed` +
              `${claim.taken_from === null ? "" : ` (taken over from ${claim.taken_from}, whose lease ran out)`}\n`,
          );
        },
        onCell: (claim, cell, plan) =>
          say(`sweep ${claim.sweep_id.slice(0, 8)}: ${cellLine(cell, plan.cells.length)}`),
        onLeaseLost: (claim) =>
          say(
            `sweep ${claim.sweep_id.slice(0, 8)}: lost the lease on cell ${claim.idx + 1}; another worker measures it\n`,
          ),
        onWaiting: () => {
          if (!waiting) say("nothing to claim now; cells are leased by other workers: waiting\n");
          waiting = true;
        },
      },
    });
  } finally {
    stop.close();
  }
}
