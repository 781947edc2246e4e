import { setTimeout as sleep } from "node:timers/promises";
import { TokbenchError } from "../../errors/TokbenchError.js";
import type { MachineInfo } from "../../results/MachineInfo.js";
import type { CellResult, ReplicateResult, SweepTiming } from "../../results/SweepResult.js";
import type { FitCheck } from "../../servers/checkMemoryFit.js";
import type { ConfigurationLauncher } from "../ConfigurationLauncher.js";
import { type PlannedCell, planSweep, type SweepPlan } from "../planSweep.js";
import { assertSameSweep, runSweep, type SweepHooks } from "../runSweep.js";
import type { SweepSpec } from "../SweepSpec.js";
import { type KeepAliveLauncher, keepAliveLauncher } from "./keepAliveLauncher.js";

/** A cell held under a lease (`PostgresSweepStore.claim`). */
export interface WorkClaim {
  sweep_id: string;
  cell_key: string;
  idx: number;
  configuration: number;
  claims: number;
  taken_from: string | null;
  interrupted_run: string | null;
}

/** The worker's identity and what its machine offers. */
export interface WorkerIdentity {
  worker: string;
  machine_class: string;
  lease_ms: number;
}

/** What a sweep's shared state says, for one claim. */
export interface SweepState {
  spec: unknown;
  planned_cells: number;
  cells: CellResult[];
  pending_replicates: Map<string, ReplicateResult[]>;
}

/**
 * The queue of cells that workers share (implemented by `PostgresSweepStore`). Every write about a
 * claimed cell returns false when the worker no longer holds it (its lease ran out and another
 * worker took the cell): the worker then drops the cell without storing anything of it.
 */
export interface WorkQueue {
  claim(
    who: WorkerIdentity,
    options: { sweep_id?: string | null; prefer?: { sweep_id: string; configuration: number } | null },
  ): Promise<WorkClaim | null>;
  renew(claim: WorkClaim, who: WorkerIdentity): Promise<boolean>;
  setRun(claim: WorkClaim, who: WorkerIdentity, runId: string): Promise<boolean>;
  addReplicate(claim: WorkClaim, who: WorkerIdentity, replicate: ReplicateResult): Promise<boolean>;
  finishCell(claim: WorkClaim, who: WorkerIdentity, cell: CellResult, timing: SweepTiming): Promise<boolean>;
  release(claim: WorkClaim, who: WorkerIdentity): Promise<void>;
  abort(sweepId: string, reason: string): Promise<void>;
  workLeft(machineClass: string, sweepId: string | null): Promise<boolean>;
  get(sweepId: string): Promise<SweepState>;
}

/** How a worker serves one sweep: its launcher and memory pre-check, made from the sweep's spec. */
export interface SweepEquipment {
  launcher: ConfigurationLauncher;
  checkFit(knobs: Readonly<Record<string, unknown>>): Promise<FitCheck | null> | FitCheck | null;
}

/** What a worker reports as it goes (printing is the caller's). */
export interface WorkerEvents {
  /** A cell was claimed (`claim.taken_from` set: taken over from a worker whose lease ran out). */
  onClaim?(claim: WorkClaim, cell: PlannedCell, plan: SweepPlan): void;
  /** A claimed cell was finished and stored. */
  onCell?(claim: WorkClaim, cell: CellResult, plan: SweepPlan): void;
  /** The worker lost its lease on a cell: nothing of it was stored by this worker. */
  onLeaseLost?(claim: WorkClaim): void;
  /** Nothing to claim now, but cells are still leased by others (their leases may run out). */
  onWaiting?(): void;
}

/** Inputs of {@link runWorker}. */
export interface RunWorkerInput {
  queue: WorkQueue;
  who: WorkerIdentity;
  /** Serve this sweep only; null: every running sweep of the worker's class. */
  sweep_id: string | null;
  machine: MachineInfo;
  /** Makes the launcher and pre-check of a sweep the worker starts serving. */
  equip(spec: SweepSpec, sweepId: string): Promise<SweepEquipment>;
  /** Storage of the runs (one per replicate), as for a local sweep. */
  runHooks?: Pick<SweepHooks, "onRunStart" | "onRequest" | "onRunEnd">;
  /** Launch events, as for a local sweep. */
  onLaunch?: SweepHooks["onLaunch"];
  events?: WorkerEvents;
  /** How long to wait before looking again when nothing can be claimed, in ms. Defaults to 1,000. */
  poll_ms?: number;
  /** Keep waiting for new sweeps when none has work left. Defaults to false: return. */
  follow?: boolean;
  /** Stop: the current cell is given back to the queue, the server is stopped. */
  signal?: AbortSignal;
}

/** What a worker did. */
export interface WorkerOutcome {
  status: "done" | "interrupted";
  /** Cells this worker finished and stored. */
  cells: number;
  /** Cells it took over from workers whose leases ran out. */
  taken_over: number;
  /** Cells it lost because its own lease ran out. */
  lost: number;
  launches: number;
}

/**
 * A sweep worker: claims a cell of a running sweep (the lightest of the configuration it has
 * running first), runs it with the ordinary sweep (`runSweep`: launcher, memory pre-check, gate,
 * skips heavier cells after a memory failure already stored), renews its lease while it measures,
 * and stores the replicates and the finished cell only while it still holds the lease. Returns when
 * no sweep it may serve has a cell left (queued, or leased by another worker whose lease may still
 * run out), or when stopped.
 */
export async function runWorker(input: RunWorkerInput): Promise<WorkerOutcome> {
  const { queue, who, signal } = input;
  const pollMs = input.poll_ms ?? 1000;
  const outcome: WorkerOutcome = { status: "done", cells: 0, taken_over: 0, lost: 0, launches: 0 };
  let current: {
    sweep_id: string;
    spec: SweepSpec;
    plan: SweepPlan;
    launcher: KeepAliveLauncher;
    checkFit: SweepEquipment["checkFit"];
    configuration: number;
  } | null = null;
  const retire = async (): Promise<void> => {
    if (current === null) return;
    const launcher = current.launcher;
    outcome.launches += launcher.launches;
    current = null;
    await launcher.shutdown();
  };

  try {
    while (signal?.aborted !== true) {
      const claim = await queue.claim(who, {
        sweep_id: input.sweep_id,
        prefer:
          current === null ? null : { sweep_id: current.sweep_id, configuration: current.configuration },
      });
      if (claim === null) {
        if (!input.follow && !(await queue.workLeft(who.machine_class, input.sweep_id))) break;
        input.events?.onWaiting?.();
        await sleep(pollMs, undefined, { signal }).catch(() => {});
        continue;
      }
      if (claim.taken_from !== null) outcome.taken_over++;
      let state: SweepState;
      try {
        state = await queue.get(claim.sweep_id);
        if (current === null || current.sweep_id !== claim.sweep_id) {
          await retire();
          const spec = state.spec as SweepSpec;
          const plan = planSweep(spec);
          assertSameSweep(state.planned_cells, plan.cells.length);
          const equipment = await input.equip(spec, claim.sweep_id);
          current = {
            sweep_id: claim.sweep_id,
            spec,
            plan,
            launcher: keepAliveLauncher(equipment.launcher),
            checkFit: equipment.checkFit,
            configuration: claim.configuration,
          };
        }
      } catch (error) {
        // This worker cannot serve the sweep: the cell goes back at once for one that can.
        await queue.release(claim, who).catch(() => {});
        throw error;
      }
      current.configuration = claim.configuration;
      const kept = await runClaim(claim, state, current);
      if (kept === "lost") {
        outcome.lost++;
        input.events?.onLeaseLost?.(claim);
      } else if (kept === "stored") outcome.cells++;
    }
  } finally {
    await retire();
  }
  if (signal?.aborted === true) outcome.status = "interrupted";
  return outcome;

  async function runClaim(
    claim: WorkClaim,
    state: SweepState,
    ctx: NonNullable<typeof current>,
  ): Promise<"stored" | "lost" | "released"> {
    const planned = ctx.plan.cells.find((c) => c.key === claim.cell_key);
    if (planned === undefined) {
      // A cell this tokbench does not plan: never store a guess; leave it for another worker.
      await queue.release(claim, who);
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `cell ${claim.cell_key} of sweep ${claim.sweep_id} is not in this tokbench's plan of the sweep: run the same tokbench version on every worker`,
      );
    }
    input.events?.onClaim?.(claim, planned, ctx.plan);
    const lost = new AbortController();
    const stop = new AbortController();
    const onStop = () => stop.abort();
    signal?.addEventListener("abort", onStop, { once: true });
    lost.signal.addEventListener("abort", onStop, { once: true });
    let lastRenewal = Date.now();
    const heartbeat = setInterval(
      () => {
        queue.renew(claim, who).then(
          (held) => {
            if (held) lastRenewal = Date.now();
            else lost.abort();
          },
          () => {
            // The database is out of reach: once the lease must have run out, the cell is someone else's.
            if (Date.now() - lastRenewal > who.lease_ms) lost.abort();
          },
        );
      },
      Math.max(50, Math.floor(who.lease_ms / 3)),
    );
    // Writes about the cell, in order. A refused one means the lease is lost. A failed one (the
    // database's error) stops the cell: it goes back to the queue and the worker ends with the error.
    let writes: Promise<void> = Promise.resolve();
    let writeError: unknown = null;
    const fenced = (write: () => Promise<boolean>): void => {
      writes = writes.then(async () => {
        if (lost.signal.aborted || writeError !== null) return;
        try {
          if (!(await write())) lost.abort();
        } catch (error) {
          writeError = error;
          stop.abort();
        }
      });
    };
    const finishedBefore = state.cells.filter((c) => c.key !== claim.cell_key);
    const launchesBefore = ctx.launcher.launches;
    let result: Awaited<ReturnType<typeof runSweep>>;
    try {
      result = await runSweep({
        sweep_id: claim.sweep_id,
        spec: ctx.spec,
        plan: ctx.plan,
        launcher: ctx.launcher,
        machine: input.machine,
        checkFit: ctx.checkFit,
        finished: finishedBefore,
        pending_replicates: new Map(
          state.pending_replicates.has(claim.cell_key)
            ? [[claim.cell_key, state.pending_replicates.get(claim.cell_key) ?? []]]
            : [],
        ),
        only: new Set([claim.cell_key]),
        config: { provider: ctx.spec.provider, model: ctx.spec.model, worker: who.worker },
        signal: stop.signal,
        hooks: {
          ...input.runHooks,
          onRunStart: (info) => {
            input.runHooks?.onRunStart?.(info);
            fenced(() => queue.setRun(claim, who, info.run_id));
          },
          onReplicate: (_cell, replicate) => fenced(() => queue.addReplicate(claim, who, replicate)),
          ...(input.onLaunch === undefined ? {} : { onLaunch: input.onLaunch }),
        },
      });
      await writes;
      if (writeError !== null) throw writeError;
    } catch (error) {
      // The cell goes back to the queue at once rather than when its lease runs out.
      await queue.release(claim, who).catch(() => {});
      throw error;
    } finally {
      clearInterval(heartbeat);
      signal?.removeEventListener("abort", onStop);
    }
    if (lost.signal.aborted) return "lost";
    const cell = result.cells.find((c) => c.key === claim.cell_key);
    if (cell === undefined || result.status === "interrupted") {
      await queue.release(claim, who);
      return "released";
    }
    const timing: SweepTiming = { ...result.timing, launches: ctx.launcher.launches - launchesBefore };
    if (!(await queue.finishCell(claim, who, cell, timing))) return "lost";
    input.events?.onCell?.(claim, cell, ctx.plan);
    if (result.status === "aborted") await queue.abort(claim.sweep_id, result.status_reason ?? "aborted");
    return "stored";
  }
}
