import { dirname, join } from "node:path";
import { isPostgresUrl } from "../../../storage/databaseFilePath.js";
import { defaultDatabasePath } from "../../../storage/defaultDatabasePath.js";
import type { RunHistory } from "../../../storage/RunHistory.js";
import { RunStore } from "../../../storage/RunStore.js";
import type { TuneRecords } from "../../../storage/TuneStore.js";
import { type RunStorage, recordingHooks, runStorage } from "../sweep/runStorageHooks.js";

/** The database a tune runs against, whichever store it is: the one seam `tokbench tune` sees. */
export interface TuneDatabase {
  /** As it may be shown: a SQLite file's path, or a PostgreSQL URL without its password. */
  readonly shown: string;
  /** The folder the servers' logs go under by default (`tune-logs/ID` in it). */
  readonly logRoot: string;
  /** The tune's own rows (its spec, trials and recipe). */
  readonly tunes: TuneRecords;
  /** The history, to read a stored sweep back (`--replay SWEEP_ID`). */
  readonly history: RunHistory;
  /** Stores every run (replicate) a live tune measures as an ordinary run. */
  runStorage(): RunStorage;
  close(): Promise<void>;
}

/**
 * Opens the tune's database: a PostgreSQL URL opens the team's database (schema migrated under its
 * advisory lock), anything else a SQLite file as `RunStore.open` does.
 * @throws TokbenchError `DB_OPEN_FAILED`, `DB_UNSUPPORTED`.
 */
export async function openTuneDatabase(location: string | undefined): Promise<TuneDatabase> {
  const url = location ?? defaultDatabasePath();
  if (isPostgresUrl(url)) {
    // Loaded only then: the driver is of no use to a SQLite tune.
    const { PostgresStore } = await import("../../../storage/postgres/PostgresStore.js");
    const { PostgresTuneStore } = await import("../../../storage/postgres/PostgresTuneStore.js");
    const { PostgresRunRecorder } = await import("../../../storage/postgres/PostgresRunRecorder.js");
    const store = await PostgresStore.open(url);
    return {
      shown: store.shownUrl,
      // No file to sit beside: the user's data folder, as a worker's sweep logs.
      logRoot: dirname(defaultDatabasePath({})),
      tunes: new PostgresTuneStore(store),
      history: store.history(),
      // A second stop signal quits at once: the batched writer has committed every request that
      // finished more than its delay before, and nothing else is held back for the quit.
      runStorage: () => ({
        hooks: recordingHooks(() => new PostgresRunRecorder(store), "tune"),
        quit: () => {},
      }),
      close: once(() => store.close()),
    };
  }
  const store = RunStore.open(location);
  return {
    shown: store.path,
    logRoot: dirname(store.path),
    tunes: store.tunes(),
    history: store.history(),
    runStorage: () => runStorage(store, "tune"),
    close: async () => store.close(),
  };
}

/** `tune-logs/ID` under the database's log folder, unless `--log-dir` says where. */
export function tuneLogDir(db: TuneDatabase, tuneId: string): string {
  return join(db.logRoot, "tune-logs", tuneId);
}

/** `close` that closes once, however often it is called (a relaunch closes before the command's own `finally`). */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | null = null;
  return () => {
    closing ??= close();
    return closing;
  };
}
