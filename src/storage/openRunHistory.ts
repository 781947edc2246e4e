import { isPostgresUrl } from "./databaseFilePath.js";
import { defaultDatabasePath } from "./defaultDatabasePath.js";
import type { RunHistory } from "./RunHistory.js";
import { RunStore } from "./RunStore.js";

/** A {@link RunHistory} opened on a database location, with how to close it. */
export interface OpenedRunHistory {
  readonly history: RunHistory;
  /** The database as it may be shown: a SQLite file's path, or a PostgreSQL URL without its password. */
  readonly shownLocation: string;
  close(): Promise<void>;
}

/**
 * Opens the run history at `location`, the one choice of store every history command makes: a
 * PostgreSQL URL (`postgres://`, `postgresql://`) opens the team's database (schema brought up to
 * date under its advisory lock), anything else a SQLite file as `RunStore.open` does.
 * @param location `--db`; defaults to {@link defaultDatabasePath} (`TOKBENCH_DB`, then the user's
 *   data directory).
 * @throws TokbenchError `DB_OPEN_FAILED`, `DB_UNSUPPORTED` (another URL scheme).
 */
export async function openRunHistory(location: string = defaultDatabasePath()): Promise<OpenedRunHistory> {
  if (isPostgresUrl(location)) {
    // Loaded only then: the driver is of no use to a SQLite history.
    const { PostgresStore } = await import("./postgres/PostgresStore.js");
    const store = await PostgresStore.open(location);
    return {
      history: store.history(),
      shownLocation: store.shownUrl,
      close: () => store.close(),
    };
  }
  const store = RunStore.open(location);
  return {
    history: store.history(),
    shownLocation: store.path,
    close: async () => store.close(),
  };
}
