import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { isPostgresUrl } from "../../storage/databaseFilePath.js";
import { defaultDatabasePath } from "../../storage/defaultDatabasePath.js";
import { type RunRows, RunStore } from "../../storage/RunStore.js";
import type { SearchRows, SearchTable } from "../../storage/storedRows.js";
import { sanitizeText } from "../../text/sanitizeText.js";

const builder = (yargs: Argv) =>
  yargs
    .positional("action", {
      type: "string",
      choices: ["copy"] as const,
      demandOption: true,
      describe: "copy: every run, sweep and tune of one store into another; those already there are skipped",
    })
    .option("from", {
      type: "string",
      describe:
        "The store to copy from: a SQLite file or a PostgreSQL URL (default: TOKBENCH_DB, else the usual database)",
    })
    .option("to", {
      type: "string",
      demandOption: true,
      describe: "The store to copy into: a PostgreSQL URL (postgres://user@host/db) or a SQLite file",
    })
    .example(
      "$0 db copy --to postgres://me@db.team:5432/tokbench",
      "Copy this machine's history up to the team's PostgreSQL (run it again: nothing is copied twice)",
    )
    .example(
      "$0 db copy --from postgres://me@db.team:5432/tokbench --to team.sqlite",
      "The team's history into a SQLite file, to read offline",
    );

type DbArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** One end of a copy: a SQLite file or a PostgreSQL database, opened. */
interface CopyEnd {
  /** As it may be shown: a path, or a URL without its password. */
  shown: string;
  runIds(): Promise<string[]>;
  runRows(runId: string): Promise<RunRows>;
  importRun(rows: RunRows): Promise<boolean>;
  searchIds(table: SearchTable): Promise<string[]>;
  searchRows(table: SearchTable, id: string): Promise<SearchRows>;
  importSearch(rows: SearchRows): Promise<boolean>;
  close(): Promise<void>;
}

async function openEnd(location: string): Promise<CopyEnd> {
  if (isPostgresUrl(location)) {
    const { PostgresStore } = await import("../../storage/postgres/PostgresStore.js");
    const store = await PostgresStore.open(location);
    const history = store.history();
    return {
      shown: store.shownUrl,
      runIds: () => history.runIds(),
      runRows: (runId) => history.runRows(runId),
      importRun: (rows) => store.importRun(rows),
      searchIds: (table) => history.searchIds(table),
      searchRows: (table, id) => history.searchRows(table, id),
      importSearch: (rows) => store.importSearch(rows),
      close: () => store.close(),
    };
  }
  const store = RunStore.open(location);
  return {
    shown: store.path,
    runIds: async () => store.runIds(),
    runRows: async (runId) => store.runRows(runId),
    importRun: async (rows) => store.importRun(rows),
    searchIds: async (table) => store.searchIds(table),
    searchRows: async (table, id) => store.searchRows(table, id),
    importSearch: async (rows) => store.importSearch(rows),
    close: async () => store.close(),
  };
}

/**
 * `tokbench db copy --from A --to B`: copies history between stores (a SQLite file or a
 * PostgreSQL database at either end), a run at a time, then a sweep and a tune at a time (their
 * cells, replicates, queue and trials, linked to the runs by id), each in one transaction on the
 * target, skipping those whose id the target has (so running it twice, or after an interrupted
 * copy, copies each once).
 */
export const dbCommand: CommandModule<object, DbArgs> = {
  builder: builder as unknown as CommandModule<object, DbArgs>["builder"],
  async handler(argv) {
    const from = argv.from ?? defaultDatabasePath();
    const to = argv.to;
    const source = await openEnd(from);
    try {
      const target = await openEnd(to);
      try {
        if (target.shown === source.shown) {
          throw new TokbenchError(
            "INVALID_ARGUMENT",
            `db copy: --from and --to are the same database (${source.shown})`,
          );
        }
        let copied = 0;
        let skipped = 0;
        let requests = 0;
        for (const runId of await source.runIds()) {
          const rows = await source.runRows(runId);
          if (await target.importRun(rows)) {
            copied++;
            requests += rows.requests.length;
          } else {
            skipped++;
          }
        }
        process.stdout.write(
          `copied ${copied} runs (${requests} requests) to ${sanitizeText(target.shown)}; ${skipped} were there already\n`,
        );
        // Then sweeps and tunes, whose rows point at runs copied above.
        const searches: string[] = [];
        for (const [table, child] of [
          ["sweeps", "sweep_cells"],
          ["tunes", "tune_trials"],
        ] as const) {
          let added = 0;
          let there = 0;
          let rows = 0;
          for (const id of await source.searchIds(table)) {
            const found = await source.searchRows(table, id);
            if (await target.importSearch(found)) {
              added++;
              rows += found.children[child]?.length ?? 0;
            } else {
              there++;
            }
          }
          searches.push(
            `${added} ${table} (${rows} ${table === "sweeps" ? "cells" : "trials"}; ${there} were there already)`,
          );
        }
        process.stdout.write(`copied ${searches.join(" and ")}\n`);
      } finally {
        await target.close();
      }
    } finally {
      await source.close();
    }
  },
};
