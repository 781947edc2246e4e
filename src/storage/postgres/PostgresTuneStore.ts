import { hostname } from "node:os";
import type { TrialRecord } from "../../results/TuneResult.js";
import type { StoredTuneRowStatus } from "../DatabaseSchema.js";
import type { StoredTune, TuneListEntry, TuneRecords, TuneStart } from "../TuneStore.js";
import { trialRow, tuneRow } from "../tuneRows.js";
import { insert, type PostgresStore } from "./PostgresStore.js";
import { listPostgresTunes, readPostgresTune } from "./searchReads.js";

/**
 * The tune tables of a PostgreSQL database, as SQLite's `TuneStore` keeps them (one schema, the
 * rows built by the same functions): each write is one statement (or transaction) committed before
 * its promise resolves, so a tune killed at any moment keeps every trial whose write resolved.
 * Errors are TokbenchErrors whose messages show the URL without its password.
 */
export class PostgresTuneStore implements TuneRecords {
  constructor(private readonly store: PostgresStore) {}

  async begin(input: TuneStart): Promise<void> {
    const row = tuneRow(input);
    await this.store.transaction(`begin tune ${input.tune_id}`, (client) => insert(client, "tunes", [row]));
  }

  async resume(tuneId: string): Promise<void> {
    await this.store.query(
      `resume tune ${tuneId}`,
      "UPDATE tunes SET status = 'running', exit_reason = NULL, ended_at = NULL, recipe_json = NULL, writer_pid = $1, writer_hostname = $2 WHERE id = $3",
      [process.pid, hostname(), tuneId],
    );
  }

  async addTrial(tuneId: string, trial: TrialRecord): Promise<void> {
    const row = trialRow(tuneId, trial);
    await this.store.transaction(`store trial ${trial.index} of tune ${tuneId}`, (client) =>
      insert(client, "tune_trials", [row]),
    );
  }

  async finish(
    tuneId: string,
    status: Exclude<StoredTuneRowStatus, "running">,
    exitReason: string,
    recipe: unknown,
  ): Promise<void> {
    await this.store.query(
      `finish tune ${tuneId}`,
      "UPDATE tunes SET status = $1, exit_reason = $2, ended_at = $3, recipe_json = $4 WHERE id = $5",
      [status, exitReason, new Date().toISOString(), JSON.stringify(recipe), tuneId],
    );
  }

  async get(tuneIdOrPrefix: string): Promise<StoredTune> {
    return readPostgresTune(this.store, tuneIdOrPrefix);
  }

  async list(limit?: number): Promise<TuneListEntry[]> {
    return listPostgresTunes(this.store, limit);
  }
}
