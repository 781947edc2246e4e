import { PostgresRunRecorder } from "../../../storage/postgres/PostgresRunRecorder.js";
import type { PostgresStore } from "../../../storage/postgres/PostgresStore.js";
import { type RunStorage, recordingHooks } from "../sweep/runStorageHooks.js";

/**
 * Stores every run (replicate) a sweep worker measures into PostgreSQL as an ordinary run: one
 * {@link PostgresRunRecorder} per run (the run row when it starts, requests in batches as they
 * finish, the rest when it ends).
 */
export function postgresRunStorage(store: PostgresStore): RunStorage["hooks"] {
  return recordingHooks(() => new PostgresRunRecorder(store), "worker");
}
