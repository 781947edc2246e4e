import type { Argv } from "yargs";

/** `--db`, as every command that reads the run history takes it. */
export function withDbOption<T>(yargs: Argv<T>) {
  return yargs.option("db", {
    type: "string",
    description:
      "SQLite file, or a team's PostgreSQL as postgres://user@host/db (password: PGPASSWORD or TOKBENCH_DB) (default: TOKBENCH_DB, else a file in the user data directory)",
  });
}

/** The `<run>` argument (id, unique prefix or `last`) and `--db`, for commands about one stored run. */
export function withRunArgument<T>(yargs: Argv<T>) {
  return withDbOption(
    yargs.positional("run", {
      type: "string",
      demandOption: true,
      description: "Run id, a unique prefix of one, or last",
    }),
  );
}
