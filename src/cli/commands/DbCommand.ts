import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { redactUrl } from "../../secrets/redact.js";
import { isPostgresUrl } from "../../storage/databaseFilePath.js";
import { defaultDatabasePath } from "../../storage/defaultDatabasePath.js";
import { RunStore } from "../../storage/RunStore.js";

const builder = (yargs: Argv) =>
  yargs
    .positional("action", {
      type: "string",
      choices: ["copy"] as const,
      demandOption: true,
      describe: "copy: every run of one store into another; runs already there are skipped",
    })
    .option("from", {
      type: "string",
      describe: "The store to copy from: a SQLite file (default: the usual database, or TOKBENCH_DB)",
    })
    .option("to", {
      type: "string",
      demandOption: true,
      describe: "The store to copy into: a PostgreSQL URL (postgres://user:password@host/db)",
    })
    .example(
      "$0 db copy --to postgres://me@db.team:5432/tokbench",
      "Copy this machine's history up to the team's PostgreSQL (run it again: nothing is copied twice)",
    );

type DbArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/**
 * `tokbench db copy --from A --to B`: copies history between stores, a run at a time, each in one
 * transaction on the target, skipping runs whose id the target has (so running it twice, or after
 * an interrupted copy, copies each run once). From a SQLite file into PostgreSQL so far.
 */
export const dbCommand: CommandModule<object, DbArgs> = {
  builder: builder as unknown as CommandModule<object, DbArgs>["builder"],
  async handler(argv) {
    const from = argv.from ?? defaultDatabasePath();
    const to = argv.to;
    if (isPostgresUrl(from) || !isPostgresUrl(to)) {
      throw new TokbenchError(
        "DB_UNSUPPORTED",
        `db copy copies a SQLite file into a PostgreSQL database so far (--from ${redactUrl(from)} --to ${redactUrl(to)})`,
      );
    }
    const source = RunStore.open(from);
    try {
      const { PostgresStore } = await import("../../storage/postgres/PostgresStore.js");
      const target = await PostgresStore.open(to);
      try {
        let copied = 0;
        let skipped = 0;
        let requests = 0;
        for (const runId of source.runIds()) {
          const rows = source.runRows(runId);
          if (await target.importRun(rows)) {
            copied++;
            requests += rows.requests.length;
          } else {
            skipped++;
          }
        }
        process.stdout.write(
          `copied ${copied} runs (${requests} requests) to ${target.shownUrl}; ${skipped} were there already\n`,
        );
      } finally {
        await target.close();
      }
    } finally {
      source.close();
    }
  },
};
