import { hostname } from "node:os";
import { TokbenchError } from "../../errors/TokbenchError.js";
import type {
  SweepCellsTable,
  SweepRunsTable,
  SweepsTable,
  TunesTable,
  TuneTrialsTable,
} from "../DatabaseSchema.js";
import type { StoredSweep, SweepListEntry } from "../SweepStore.js";
import { cellsFromRows } from "../sweepRows.js";
import { type StoredTune, type TuneListEntry, tuneNotFound } from "../TuneStore.js";
import { processAlive } from "../tableWrites.js";
import { storedTune, tuneListEntry } from "../tuneRows.js";
import type { PostgresQueries } from "./PostgresRunHistory.js";

/** What is left of a distributed sweep's queue. */
export interface QueueCounts {
  queued: number;
  leased: number;
  done: number;
  /** Claims beyond the first per cell: leases taken over after they ran out, or cells given back. */
  reclaims: number;
}

/** A stored distributed sweep: the local reading plus its queue. */
export interface StoredDistributedSweep extends StoredSweep {
  /** null for a sweep that was not queued for workers (run by `tokbench sweep` alone). */
  queue: QueueCounts | null;
}

async function rows<T>(db: PostgresQueries, what: string, sql: string, params: unknown[]): Promise<T[]> {
  return (await db.query(what, sql, params, "DB_READ_FAILED")).rows as T[];
}

/**
 * A sweep's status as read back. A sweep queued for workers is `running` until its last cell is
 * done, whoever created it and whether that process still lives. A sweep without a queue (run by
 * one `tokbench sweep` into SQLite, then copied here) is `incomplete` when its writer, a process of
 * this machine, is gone, as SQLite's store says.
 */
function sweepStatus(
  row: Pick<SweepsTable, "status" | "writer_pid" | "writer_hostname">,
  queued: boolean,
): StoredSweep["status"] {
  return row.status === "running" &&
    !queued &&
    row.writer_hostname === hostname() &&
    !processAlive(row.writer_pid)
    ? "incomplete"
    : row.status;
}

/**
 * Reads a sweep back from PostgreSQL as the SQLite store does, with its queue. A sweep id may be
 * abbreviated to a unique prefix (8 characters or more).
 * @throws TokbenchError `SWEEP_NOT_FOUND`, `DB_READ_FAILED`.
 */
export async function readPostgresSweep(
  db: PostgresQueries,
  sweepIdOrPrefix: string,
): Promise<StoredDistributedSweep> {
  const found = await rows<SweepsTable>(
    db,
    "read a sweep",
    "SELECT * FROM sweeps WHERE id = $1 OR (length($1) >= 8 AND substr(id, 1, length($1)) = $1)",
    [sweepIdOrPrefix],
  );
  const row = found.find((r) => r.id === sweepIdOrPrefix) ?? (found.length === 1 ? found[0] : undefined);
  if (row === undefined) {
    throw new TokbenchError(
      "SWEEP_NOT_FOUND",
      found.length > 1
        ? `sweep id "${sweepIdOrPrefix}" is ambiguous in ${db.shownUrl}`
        : `no sweep "${sweepIdOrPrefix}" in ${db.shownUrl}`,
      { context: { sweep_id: sweepIdOrPrefix, url: db.shownUrl } },
    );
  }
  const runRows = await rows<SweepRunsTable>(
    db,
    "read a sweep's replicates",
    `SELECT * FROM sweep_runs WHERE sweep_id = $1 ORDER BY cell_key COLLATE "C", replicate`,
    [row.id],
  );
  const cellRows = await rows<SweepCellsTable>(
    db,
    "read a sweep's cells",
    "SELECT * FROM sweep_cells WHERE sweep_id = $1 ORDER BY idx",
    [row.id],
  );
  const [counts] = await rows<QueueCounts & { total: number }>(
    db,
    "read a sweep's queue",
    `SELECT COUNT(*) FILTER (WHERE state = 'queued')::INTEGER AS queued,
            COUNT(*) FILTER (WHERE state = 'leased')::INTEGER AS leased,
            COUNT(*) FILTER (WHERE state = 'done')::INTEGER AS done,
            COALESCE(SUM(GREATEST(claims - 1, 0)), 0)::INTEGER AS reclaims,
            COUNT(*)::INTEGER AS total
     FROM sweep_queue WHERE sweep_id = $1`,
    [row.id],
  );
  const { cells, pending_replicates } = cellsFromRows(cellRows, runRows);
  const queued = counts !== undefined && counts.total > 0;
  return {
    sweep_id: row.id,
    tool_version: row.tool_version,
    started_at: row.started_at,
    ended_at: row.ended_at,
    status: sweepStatus(row, queued),
    status_reason: row.status_reason,
    spec: JSON.parse(row.spec_json),
    planned_cells: row.planned_cells,
    timing: row.timing_json === null ? null : JSON.parse(row.timing_json),
    cells,
    pending_replicates,
    queue:
      counts === undefined || !queued
        ? null
        : { queued: counts.queued, leased: counts.leased, done: counts.done, reclaims: counts.reclaims },
  };
}

/** Sweeps, most recent first; `limit` undefined for all. */
export async function listPostgresSweeps(db: PostgresQueries, limit?: number): Promise<SweepListEntry[]> {
  const found = await rows<SweepsTable & { finished_cells: number; queued: boolean }>(
    db,
    "list sweeps",
    `SELECT s.*, (SELECT COUNT(*) FROM sweep_cells c WHERE c.sweep_id = s.id)::INTEGER AS finished_cells,
            EXISTS (SELECT 1 FROM sweep_queue q WHERE q.sweep_id = s.id) AS queued
     FROM sweeps s ORDER BY started_at COLLATE "C" DESC, id COLLATE "C" DESC LIMIT $1`,
    [limit ?? null],
  );
  return found.map((row) => ({
    sweep_id: row.id,
    started_at: row.started_at,
    status: sweepStatus(row, row.queued),
    planned_cells: row.planned_cells,
    finished_cells: row.finished_cells,
  }));
}

/**
 * Reads a tune back from PostgreSQL. An id may be abbreviated to a unique prefix (8 characters or more).
 * @throws TokbenchError `TUNE_NOT_FOUND`, `DB_READ_FAILED`.
 */
export async function readPostgresTune(db: PostgresQueries, tuneIdOrPrefix: string): Promise<StoredTune> {
  const found = await rows<TunesTable>(
    db,
    "read a tune",
    "SELECT * FROM tunes WHERE id = $1 OR (length($1) >= 8 AND substr(id, 1, length($1)) = $1)",
    [tuneIdOrPrefix],
  );
  const row = found.find((r) => r.id === tuneIdOrPrefix) ?? (found.length === 1 ? found[0] : undefined);
  if (row === undefined) throw tuneNotFound(tuneIdOrPrefix, db.shownUrl, found.length);
  const trials = await rows<TuneTrialsTable>(
    db,
    "read a tune's trials",
    "SELECT * FROM tune_trials WHERE tune_id = $1 ORDER BY idx",
    [row.id],
  );
  return storedTune(row, trials);
}

/** Tunes, most recent first; `limit` undefined for all. */
export async function listPostgresTunes(db: PostgresQueries, limit?: number): Promise<TuneListEntry[]> {
  const found = await rows<TunesTable & { trials: number }>(
    db,
    "list tunes",
    `SELECT t.*, (SELECT COUNT(*) FROM tune_trials x WHERE x.tune_id = t.id)::INTEGER AS trials
     FROM tunes t ORDER BY started_at COLLATE "C" DESC, id COLLATE "C" DESC LIMIT $1`,
    [limit ?? null],
  );
  return found.map(tuneListEntry);
}
