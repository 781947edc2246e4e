import type pg from "pg";
import type { CellResult, ReplicateResult, SweepTiming } from "../../results/SweepResult.js";
import type { SweepQueueTable, SweepsTable } from "../DatabaseSchema.js";
import type { SweepListEntry } from "../SweepStore.js";
import { cellRow, replicateRow, sweepRow } from "../sweepRows.js";
import { insert, type PostgresStore } from "./PostgresStore.js";
import { listPostgresSweeps, readPostgresSweep, type StoredDistributedSweep } from "./searchReads.js";

export type { QueueCounts, StoredDistributedSweep } from "./searchReads.js";

/** Now on the database server's clock, in ms since the epoch: every lease is timed by one clock. */
const NOW_MS = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

/** One cell of a new distributed sweep's queue. */
export interface QueuedCell {
  key: string;
  index: number;
  configuration: number;
}

/** A cell a worker holds under a lease. */
export interface CellClaim {
  sweep_id: string;
  cell_key: string;
  idx: number;
  configuration: number;
  /** Times the cell has been claimed, this claim included (2 or more: taken over or given back). */
  claims: number;
  /** The worker whose lease ran out when this claim took the cell over; null for a queued cell. */
  taken_from: string | null;
  /** That worker's run in flight, now marked `interrupted`; null when none. */
  interrupted_run: string | null;
}

/** Who claims: the worker's identity and what its machine offers. */
export interface Claimant {
  /** Unique per worker process: host, pid and a random part. */
  worker: string;
  /** The worker's machine class; a cell with another class is left to other workers. */
  machine_class: string;
  /** How long a claim holds without renewal, in ms. */
  lease_ms: number;
}

/**
 * The sweep tables of a PostgreSQL database, for sweeps spread over several machines: the sweep's
 * row and one `sweep_queue` row per cell when it is created; workers claim cells with
 * `SELECT ... FOR UPDATE SKIP LOCKED` under a lease they renew (so two workers never wait on, nor
 * take, the same cell), and a cell whose lease ran out is claimed again. Every write of a worker
 * about its cell (its run in flight, a replicate, the finished cell) is fenced: it happens only
 * while the worker still holds the cell, so a worker that lost its lease writes nothing, and each
 * cell is stored exactly once.
 */
export class PostgresSweepStore {
  constructor(private readonly store: PostgresStore) {}

  /** Records a new sweep (status `running`) and queues every cell, in one transaction. */
  async create(input: {
    sweep_id: string;
    tool_version: string;
    started_at: string;
    spec: unknown;
    cells: readonly QueuedCell[];
    /** The class a worker's machine must have; null: any machine. */
    machine_class: string | null;
  }): Promise<void> {
    await this.store.transaction(`create sweep ${input.sweep_id}`, async (client) => {
      const row = sweepRow({ ...input, planned_cells: input.cells.length });
      await insert(client, "sweeps", [row]);
      const queue: SweepQueueTable[] = input.cells.map((cell) => ({
        sweep_id: input.sweep_id,
        cell_key: cell.key,
        idx: cell.index,
        configuration: cell.configuration,
        machine_class: input.machine_class,
        state: "queued",
        worker: null,
        lease_until_ms: null,
        claims: 0,
        run_id: null,
      }));
      for (let start = 0; start < queue.length; start += 1000) {
        await insert(client, "sweep_queue", queue.slice(start, start + 1000));
      }
    });
  }

  /**
   * Claims the next cell `who` may take: a queued cell, or one whose lease ran out, of a running
   * sweep (`sweepId` only, when given) whose class is the worker's or any. Cells of `prefer` (the
   * server configuration the worker has running) come first, then the oldest sweep's lightest
   * cells. Locked rows are skipped, so concurrent workers never block each other nor get the same
   * cell. A cell taken over has its previous holder's run in flight marked `interrupted`.
   * Returns null when nothing can be claimed now.
   */
  async claim(
    who: Claimant,
    options: { sweep_id?: string | null; prefer?: { sweep_id: string; configuration: number } | null } = {},
  ): Promise<CellClaim | null> {
    return this.store.transaction("claim a sweep cell", async (client) => {
      const found = await client.query<SweepQueueTable>(
        `SELECT q.* FROM sweep_queue q JOIN sweeps s ON s.id = q.sweep_id
         WHERE s.status = 'running'
           AND (q.machine_class IS NULL OR q.machine_class = $1)
           AND ($2::TEXT IS NULL OR q.sweep_id = $2)
           AND (q.state = 'queued' OR (q.state = 'leased' AND q.lease_until_ms < ${NOW_MS}))
         ORDER BY (q.sweep_id = $3 AND q.configuration = $4) DESC, s.started_at, q.sweep_id, q.idx
         LIMIT 1
         FOR UPDATE OF q SKIP LOCKED`,
        [
          who.machine_class,
          options.sweep_id ?? null,
          options.prefer?.sweep_id ?? "",
          options.prefer?.configuration ?? -1,
        ],
      );
      const row = found.rows[0];
      if (row === undefined) return null;
      await client.query(
        `UPDATE sweep_queue SET state = 'leased', worker = $1, lease_until_ms = ${NOW_MS} + $2, claims = claims + 1, run_id = NULL
         WHERE sweep_id = $3 AND cell_key = $4`,
        [who.worker, who.lease_ms, row.sweep_id, row.cell_key],
      );
      const takenOver = row.state === "leased";
      let interrupted: string | null = null;
      if (takenOver && row.run_id !== null) {
        const marked = await client.query(
          "UPDATE runs SET status = 'interrupted', status_reason = $1, ended_at = $2 WHERE id = $3 AND status = 'running'",
          [
            `the sweep worker ${row.worker ?? "?"} lost its lease on this cell (it died or lost the database); worker ${who.worker} measures the cell again`,
            new Date().toISOString(),
            row.run_id,
          ],
        );
        if ((marked.rowCount ?? 0) > 0) interrupted = row.run_id;
      }
      return {
        sweep_id: row.sweep_id,
        cell_key: row.cell_key,
        idx: row.idx,
        configuration: row.configuration,
        claims: row.claims + 1,
        taken_from: takenOver ? row.worker : null,
        interrupted_run: interrupted,
      };
    });
  }

  /** Extends the lease of a held cell; false when the worker no longer holds it. */
  async renew(claim: CellClaim, who: Claimant): Promise<boolean> {
    const done = await this.store.query(
      "renew a sweep cell's lease",
      `UPDATE sweep_queue SET lease_until_ms = ${NOW_MS} + $1
       WHERE sweep_id = $2 AND cell_key = $3 AND worker = $4 AND state = 'leased'`,
      [who.lease_ms, claim.sweep_id, claim.cell_key, who.worker],
    );
    return (done.rowCount ?? 0) > 0;
  }

  /** Notes the run the worker measures for its cell (closed by whoever takes the cell over); false when not held. */
  async setRun(claim: CellClaim, who: Claimant, runId: string): Promise<boolean> {
    const done = await this.store.query(
      "note a sweep cell's run",
      "UPDATE sweep_queue SET run_id = $1 WHERE sweep_id = $2 AND cell_key = $3 AND worker = $4 AND state = 'leased'",
      [runId, claim.sweep_id, claim.cell_key, who.worker],
    );
    return (done.rowCount ?? 0) > 0;
  }

  /** Stores one measured replicate of the held cell; false (nothing stored) when not held. */
  async addReplicate(claim: CellClaim, who: Claimant, replicate: ReplicateResult): Promise<boolean> {
    return this.store.transaction(`store a replicate of sweep ${claim.sweep_id}`, async (client) => {
      if (!(await holds(client, claim, who))) return false;
      await insert(
        client,
        "sweep_runs",
        [replicateRow(claim.sweep_id, claim.cell_key, replicate)],
        "ON CONFLICT DO NOTHING",
      );
      return true;
    });
  }

  /**
   * Stores the held cell as finished and marks it done, adds `timing` to the sweep's, and ends the
   * sweep (`completed`) when it was the last cell, all in one transaction. The sweep's row is locked
   * first, so two workers finishing the last two cells at once cannot both miss the end. Returns
   * false (nothing stored) when the worker no longer holds the cell.
   */
  async finishCell(claim: CellClaim, who: Claimant, cell: CellResult, timing: SweepTiming): Promise<boolean> {
    return this.store.transaction(`store cell ${cell.index} of sweep ${claim.sweep_id}`, async (client) => {
      const sweep = await client.query<Pick<SweepsTable, "timing_json" | "started_at">>(
        "SELECT timing_json, started_at FROM sweeps WHERE id = $1 FOR UPDATE",
        [claim.sweep_id],
      );
      const marked = await client.query(
        `UPDATE sweep_queue SET state = 'done', lease_until_ms = NULL
         WHERE sweep_id = $1 AND cell_key = $2 AND worker = $3 AND state = 'leased'`,
        [claim.sweep_id, claim.cell_key, who.worker],
      );
      if ((marked.rowCount ?? 0) === 0) return false;
      await insert(client, "sweep_cells", [cellRow(claim.sweep_id, cell)]);
      const before = sweep.rows[0]?.timing_json;
      const total = addTiming(before ? (JSON.parse(before) as SweepTiming) : null, timing);
      const left = await client.query<{ n: number }>(
        "SELECT COUNT(*)::INTEGER AS n FROM sweep_queue WHERE sweep_id = $1 AND state <> 'done'",
        [claim.sweep_id],
      );
      if (Number(left.rows[0]?.n) === 0) {
        const endedAt = new Date();
        const startedAt = Date.parse(String(sweep.rows[0]?.started_at));
        total.wall_ms = Number.isFinite(startedAt) ? endedAt.getTime() - startedAt : total.wall_ms;
        await client.query(
          "UPDATE sweeps SET status = 'completed', status_reason = NULL, ended_at = $1, timing_json = $2 WHERE id = $3 AND status = 'running'",
          [endedAt.toISOString(), JSON.stringify(total), claim.sweep_id],
        );
      } else {
        await client.query("UPDATE sweeps SET timing_json = $1 WHERE id = $2", [
          JSON.stringify(total),
          claim.sweep_id,
        ]);
      }
      return true;
    });
  }

  /** Gives a held cell back to the queue at once (a worker stopped by the user), keeping its replicates. */
  async release(claim: CellClaim, who: Claimant): Promise<void> {
    await this.store.query(
      "give a sweep cell back",
      `UPDATE sweep_queue SET state = 'queued', worker = NULL, lease_until_ms = NULL, run_id = NULL
       WHERE sweep_id = $1 AND cell_key = $2 AND worker = $3 AND state = 'leased'`,
      [claim.sweep_id, claim.cell_key, who.worker],
    );
  }

  /** Stops a running sweep (`--abort-on-error`): no worker claims its cells any more. */
  async abort(sweepId: string, reason: string): Promise<void> {
    await this.store.query(
      `abort sweep ${sweepId}`,
      "UPDATE sweeps SET status = 'aborted', status_reason = $1, ended_at = $2 WHERE id = $3 AND status = 'running'",
      [reason, new Date().toISOString(), sweepId],
    );
  }

  /** Marks a stopped sweep running again, so workers claim its remaining cells (`--resume`). */
  async resume(sweepId: string): Promise<void> {
    await this.store.query(
      `resume sweep ${sweepId}`,
      "UPDATE sweeps SET status = 'running', status_reason = NULL, ended_at = NULL WHERE id = $1 AND status <> 'completed' AND EXISTS (SELECT 1 FROM sweep_queue q WHERE q.sweep_id = $1 AND q.state <> 'done')",
      [sweepId],
    );
  }

  /**
   * Whether a worker of class `machineClass` may still get work from the running sweeps (`sweepId`
   * only, when given): a cell queued, or leased by someone (whose lease may run out).
   */
  async workLeft(machineClass: string, sweepId: string | null): Promise<boolean> {
    const found = await this.store.query(
      "look for sweep work",
      `SELECT EXISTS (SELECT 1 FROM sweep_queue q JOIN sweeps s ON s.id = q.sweep_id
         WHERE s.status = 'running' AND q.state <> 'done'
           AND (q.machine_class IS NULL OR q.machine_class = $1)
           AND ($2::TEXT IS NULL OR q.sweep_id = $2)) AS left`,
      [machineClass, sweepId],
    );
    return (found.rows[0] as { left: boolean }).left;
  }

  /**
   * Reads a sweep back as the SQLite store does, with its queue. A sweep id may be abbreviated to
   * a unique prefix (8 characters or more).
   * @throws TokbenchError `SWEEP_NOT_FOUND`.
   */
  async get(sweepIdOrPrefix: string): Promise<StoredDistributedSweep> {
    return readPostgresSweep(this.store, sweepIdOrPrefix);
  }

  /** Sweeps, most recent first; `limit` undefined for all. */
  async list(limit?: number): Promise<SweepListEntry[]> {
    return listPostgresSweeps(this.store, limit);
  }
}

/** Whether `who` still holds the claimed cell; locks its queue row for the rest of the transaction. */
async function holds(client: pg.PoolClient, claim: CellClaim, who: Claimant): Promise<boolean> {
  const found = await client.query(
    "SELECT 1 FROM sweep_queue WHERE sweep_id = $1 AND cell_key = $2 AND worker = $3 AND state = 'leased' FOR UPDATE",
    [claim.sweep_id, claim.cell_key, who.worker],
  );
  return found.rows.length > 0;
}

/** `a + b`, phase by phase (the wall time is set when the sweep ends). */
function addTiming(a: SweepTiming | null, b: SweepTiming): SweepTiming {
  if (a === null) return { ...b };
  return {
    wall_ms: a.wall_ms + b.wall_ms,
    measuring_ms: a.measuring_ms + b.measuring_ms,
    launching_ms: a.launching_ms + b.launching_ms,
    warmup_ms: a.warmup_ms + b.warmup_ms,
    stopping_ms: a.stopping_ms + b.stopping_ms,
    other_ms: a.other_ms + b.other_ms,
    launches: a.launches + b.launches,
  };
}
