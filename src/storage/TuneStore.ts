import { hostname } from "node:os";
import type Database from "better-sqlite3";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { TrialRecord } from "../results/TuneResult.js";
import type { StoredTuneRowStatus, TunesTable, TuneTrialsTable } from "./DatabaseSchema.js";
import { insertSql, processAlive, writeOrFail } from "./tableWrites.js";

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

/** One line of {@link TuneStore.list}. */
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
 * The tune tables of a tokbench database (`RunStore.tunes()`): a tune's row when it starts, each
 * trial as it finishes, the recipe when it ends. Each call commits on its own, so a tune killed at
 * any moment keeps every finished trial, and `--resume` measures none of them again.
 */
export class TuneStore {
  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {}

  private write<T>(what: string, action: () => T): T {
    return writeOrFail(this.path, what, action);
  }

  /** Records a tune that starts, with status `running`. */
  begin(input: { tune_id: string; tool_version: string; started_at: string; spec: unknown }): void {
    const row: TunesTable = {
      id: input.tune_id,
      tool_version: input.tool_version,
      started_at: input.started_at,
      ended_at: null,
      status: "running",
      exit_reason: null,
      spec_json: JSON.stringify(input.spec),
      recipe_json: null,
      writer_pid: process.pid,
      writer_hostname: hostname(),
    };
    this.write(`begin tune ${input.tune_id}`, () => this.db.prepare<TunesTable>(insertSql("tunes")).run(row));
  }

  /** Marks a stored tune as running again in this process (`--resume`). */
  resume(tuneId: string): void {
    this.write(`resume tune ${tuneId}`, () =>
      this.db
        .prepare(
          "UPDATE tunes SET status = 'running', exit_reason = NULL, ended_at = NULL, recipe_json = NULL, writer_pid = ?, writer_hostname = ? WHERE id = ?",
        )
        .run(process.pid, hostname(), tuneId),
    );
  }

  /** Stores one finished trial. */
  addTrial(tuneId: string, trial: TrialRecord): void {
    const row: TuneTrialsTable = {
      tune_id: tuneId,
      idx: trial.index,
      stage: trial.stage,
      kind: trial.kind,
      configuration_json: JSON.stringify(trial.configuration),
      status: trial.status,
      failure: trial.failure,
      reason: trial.reason,
      value: trial.value,
      ttft_p95_ms: trial.ttft_p95_ms,
      spread: trial.spread,
      reference: trial.reference,
      elapsed_ms: trial.elapsed_ms,
      replicates_json: JSON.stringify(trial.replicates),
      finished_at: new Date().toISOString(),
    };
    this.write(`store trial ${trial.index} of tune ${tuneId}`, () =>
      this.db.prepare<TuneTrialsTable>(insertSql("tune_trials")).run(row),
    );
  }

  /** Records how the tune ended, with its recipe. */
  finish(
    tuneId: string,
    status: Exclude<StoredTuneRowStatus, "running">,
    exitReason: string,
    recipe: unknown,
  ): void {
    this.write(`finish tune ${tuneId}`, () =>
      this.db
        .prepare("UPDATE tunes SET status = ?, exit_reason = ?, ended_at = ?, recipe_json = ? WHERE id = ?")
        .run(status, exitReason, new Date().toISOString(), JSON.stringify(recipe), tuneId),
    );
  }

  /**
   * Reads a tune back. An id may be abbreviated to a unique prefix (8 characters or more).
   * @throws TokbenchError `TUNE_NOT_FOUND`.
   */
  get(tuneIdOrPrefix: string): StoredTune {
    const rows = this.db
      .prepare<{ id: string }, TunesTable>(
        "SELECT * FROM tunes WHERE id = @id OR (length(@id) >= 8 AND substr(id, 1, length(@id)) = @id)",
      )
      .all({ id: tuneIdOrPrefix });
    const row = rows.find((r) => r.id === tuneIdOrPrefix) ?? (rows.length === 1 ? rows[0] : undefined);
    if (row === undefined) {
      throw new TokbenchError(
        "TUNE_NOT_FOUND",
        rows.length > 1
          ? `tune id "${tuneIdOrPrefix}" is ambiguous in ${this.path}`
          : `no tune "${tuneIdOrPrefix}" in ${this.path}`,
        { context: { tune_id: tuneIdOrPrefix, path: this.path } },
      );
    }
    const trials: TrialRecord[] = this.db
      .prepare<[string], TuneTrialsTable>("SELECT * FROM tune_trials WHERE tune_id = ? ORDER BY idx")
      .all(row.id)
      .map((t) => ({
        index: t.idx,
        stage: t.stage,
        kind: t.kind,
        configuration: JSON.parse(t.configuration_json),
        replicates: JSON.parse(t.replicates_json),
        status: t.status,
        failure: t.failure as TrialRecord["failure"],
        reason: t.reason,
        value: t.value,
        ttft_p95_ms: t.ttft_p95_ms,
        spread: t.spread,
        reference: t.reference,
        elapsed_ms: t.elapsed_ms,
      }));
    const status =
      row.status === "running" && row.writer_hostname === hostname() && !processAlive(row.writer_pid)
        ? "incomplete"
        : row.status;
    return {
      tune_id: row.id,
      tool_version: row.tool_version,
      started_at: row.started_at,
      ended_at: row.ended_at,
      status,
      exit_reason: row.exit_reason,
      spec: JSON.parse(row.spec_json),
      recipe: row.recipe_json === null ? null : JSON.parse(row.recipe_json),
      trials,
    };
  }

  /** Tunes, most recent first; `limit` undefined for all. */
  list(limit?: number): TuneListEntry[] {
    return this.db
      .prepare<[number], TunesTable & { trials: number }>(
        "SELECT t.*, (SELECT count(*) FROM tune_trials x WHERE x.tune_id = t.id) AS trials FROM tunes t ORDER BY started_at DESC, id DESC LIMIT ?",
      )
      .all(limit ?? -1)
      .map((row) => ({
        tune_id: row.id,
        started_at: row.started_at,
        ended_at: row.ended_at,
        status:
          row.status === "running" && row.writer_hostname === hostname() && !processAlive(row.writer_pid)
            ? "incomplete"
            : row.status,
        exit_reason: row.exit_reason,
        trials: row.trials,
      }));
  }
}
