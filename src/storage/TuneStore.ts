import { hostname } from "node:os";
import type Database from "better-sqlite3";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { TrialRecord } from "../results/TuneResult.js";
import type { StoredTuneRowStatus, TunesTable, TuneTrialsTable } from "./DatabaseSchema.js";
import { insertSql, rowByIdOrPrefix, writeOrFail } from "./tableWrites.js";
import { storedTune, trialRow, tuneListEntry, tuneRow } from "./tuneRows.js";

/** What a tune that starts is recorded with (`TuneRecords.begin`). */
export interface TuneStart {
  tune_id: string;
  tool_version: string;
  started_at: string;
  /** The tune's spec, stored as JSON. */
  spec: unknown;
}

/** A tune read back: its row and its trials. */
export interface StoredTune {
  tune_id: string;
  tool_version: string;
  started_at: string;
  ended_at: string | null;
  /** `incomplete` when the process writing it died before it ended. */
  status: StoredTuneRowStatus | "incomplete";
  exit_reason: string | null;
  /** The spec as stored (parse with the tune's own types). */
  spec: unknown;
  recipe: unknown | null;
  /** Trials in order. */
  trials: TrialRecord[];
}

/** One line of {@link TuneRecords.list}. */
export interface TuneListEntry {
  tune_id: string;
  started_at: string;
  ended_at: string | null;
  status: StoredTuneRowStatus | "incomplete";
  exit_reason: string | null;
  /** Trials stored. */
  trials: number;
}

/**
 * A store's tune tables, as `tokbench tune` writes and reads them: the tune's row when it starts,
 * each trial as it finishes, the recipe when it ends. Each call commits on its own before its
 * promise resolves, so a tune killed at any moment keeps every trial whose write resolved, and
 * `--resume` measures none of them again. SQLite's {@link TuneStore} and PostgreSQL's
 * `PostgresTuneStore` implement it.
 */
export interface TuneRecords {
  /** Records a tune that starts, with status `running`. @throws TokbenchError `DB_WRITE_FAILED`. */
  begin(input: TuneStart): Promise<void>;
  /** Marks a stored tune as running again in this process (`--resume`). */
  resume(tuneId: string): Promise<void>;
  /** Stores one finished trial. @throws TokbenchError `DB_WRITE_FAILED`. */
  addTrial(tuneId: string, trial: TrialRecord): Promise<void>;
  /** Records how the tune ended, with its recipe. */
  finish(
    tuneId: string,
    status: Exclude<StoredTuneRowStatus, "running">,
    exitReason: string,
    recipe: unknown,
  ): Promise<void>;
  /**
   * Reads a tune back. An id may be abbreviated to a unique prefix (8 characters or more).
   * @throws TokbenchError `TUNE_NOT_FOUND`.
   */
  get(tuneIdOrPrefix: string): Promise<StoredTune>;
  /** Tunes, most recent first; `limit` undefined for all. */
  list(limit?: number): Promise<TuneListEntry[]>;
}

/** `TUNE_NOT_FOUND` for `ref` in the database shown as `where`: none, or (`matches` > 1) ambiguous. */
export function tuneNotFound(ref: string, where: string, matches: number): TokbenchError {
  return new TokbenchError(
    "TUNE_NOT_FOUND",
    matches > 1 ? `tune id "${ref}" is ambiguous in ${where}` : `no tune "${ref}" in ${where}`,
    { context: { tune_id: ref, path: where } },
  );
}

/**
 * The tune tables of a tokbench SQLite database (`RunStore.tunes()`). better-sqlite3 is
 * synchronous: each write is committed before its method returns its (resolved) promise.
 */
export class TuneStore implements TuneRecords {
  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {}

  private write<T>(what: string, action: () => T): T {
    return writeOrFail(this.path, what, action);
  }

  async begin(input: TuneStart): Promise<void> {
    const row = tuneRow(input);
    this.write(`begin tune ${input.tune_id}`, () => this.db.prepare<TunesTable>(insertSql("tunes")).run(row));
  }

  async resume(tuneId: string): Promise<void> {
    this.write(`resume tune ${tuneId}`, () =>
      this.db
        .prepare(
          "UPDATE tunes SET status = 'running', exit_reason = NULL, ended_at = NULL, recipe_json = NULL, writer_pid = ?, writer_hostname = ? WHERE id = ?",
        )
        .run(process.pid, hostname(), tuneId),
    );
  }

  async addTrial(tuneId: string, trial: TrialRecord): Promise<void> {
    const row = trialRow(tuneId, trial);
    this.write(`store trial ${trial.index} of tune ${tuneId}`, () =>
      this.db.prepare<TuneTrialsTable>(insertSql("tune_trials")).run(row),
    );
  }

  async finish(
    tuneId: string,
    status: Exclude<StoredTuneRowStatus, "running">,
    exitReason: string,
    recipe: unknown,
  ): Promise<void> {
    this.write(`finish tune ${tuneId}`, () =>
      this.db
        .prepare("UPDATE tunes SET status = ?, exit_reason = ?, ended_at = ?, recipe_json = ? WHERE id = ?")
        .run(status, exitReason, new Date().toISOString(), JSON.stringify(recipe), tuneId),
    );
  }

  async get(tuneIdOrPrefix: string): Promise<StoredTune> {
    const rows = this.db
      .prepare<{ id: string }, TunesTable>(
        "SELECT * FROM tunes WHERE id = @id OR (length(@id) >= 8 AND substr(id, 1, length(@id)) = @id)",
      )
      .all({ id: tuneIdOrPrefix });
    const row = rowByIdOrPrefix(rows, tuneIdOrPrefix);
    if (row === undefined) throw tuneNotFound(tuneIdOrPrefix, this.path, rows.length);
    const trials = this.db
      .prepare<[string], TuneTrialsTable>("SELECT * FROM tune_trials WHERE tune_id = ? ORDER BY idx")
      .all(row.id);
    return storedTune(row, trials);
  }

  async list(limit?: number): Promise<TuneListEntry[]> {
    return this.db
      .prepare<[number], TunesTable & { trials: number }>(
        "SELECT t.*, (SELECT count(*) FROM tune_trials x WHERE x.tune_id = t.id) AS trials FROM tunes t ORDER BY started_at DESC, id DESC LIMIT ?",
      )
      .all(limit ?? -1)
      .map(tuneListEntry);
  }
}
