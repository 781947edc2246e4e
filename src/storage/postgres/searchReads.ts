import type {
  SweepCellsTable,
  SweepRunsTable,
  SweepsTable,
  TunesTable,
  TuneTrialsTable,
} from "../DatabaseSchema.js";
import type { StoredSweep, SweepListEntry } from "../SweepStore.js";
import { storedSweep, sweepListEntry, sweepNotFound } from "../sweepRows.js";
import { type StoredTune, type TuneListEntry, tuneNotFound } from "../TuneStore.js";
import { rowByIdOrPrefix } from "../tableWrites.js";
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
  const row = rowByIdOrPrefix(found, sweepIdOrPrefix);
  if (row === undefined)
    throw sweepNotFound(sweepIdOrPrefix, db.shownUrl, found.length, { url: db.shownUrl });
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
  const queued = counts !== undefined && counts.total > 0;
  return {
    ...storedSweep(row, cellRows, runRows, queued),
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
  return found.map((row) => sweepListEntry(row, row.queued));
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
  const row = rowByIdOrPrefix(found, tuneIdOrPrefix);
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
