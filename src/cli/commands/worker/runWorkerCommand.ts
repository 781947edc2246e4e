import { TokbenchError } from "../../../errors/TokbenchError.js";
import { redactUrl } from "../../../secrets/redact.js";
import { isPostgresUrl } from "../../../storage/databaseFilePath.js";
import { defaultDatabasePath } from "../../../storage/defaultDatabasePath.js";
import { PostgresStore } from "../../../storage/postgres/PostgresStore.js";
import { workOnPostgres } from "./workOnPostgres.js";

/** The flags of `tokbench worker`. */
export interface WorkerCommandArgs {
  db?: string | undefined;
  sweep?: string | undefined;
  lease: number;
  poll: number;
  follow: boolean;
  "log-dir"?: string | undefined;
  progress: boolean;
}

/** `tokbench worker`; returns the exit code (0: no work left, 130: stopped). */
export async function runWorkerCommand(args: WorkerCommandArgs): Promise<number> {
  const location = args.db ?? defaultDatabasePath();
  if (!isPostgresUrl(location)) {
    throw new TokbenchError(
      "DB_UNSUPPORTED",
      `tokbench worker works on sweeps in a PostgreSQL database: give --db postgres://... or TOKBENCH_DB (not ${redactUrl(location)})`,
    );
  }
  for (const [flag, value] of [
    ["lease", args.lease],
    ["poll", args.poll],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `--${flag} must be a number of seconds above 0, not ${value}`,
      );
    }
  }
  const store = await PostgresStore.open(location);
  try {
    let sweepId: string | null = null;
    if (args.sweep !== undefined) {
      const { PostgresSweepStore } = await import("../../../storage/postgres/PostgresSweepStore.js");
      sweepId = (await new PostgresSweepStore(store).get(args.sweep)).sweep_id;
    }
    const outcome = await workOnPostgres(store, {
      sweep_id: sweepId,
      lease_s: args.lease,
      poll_s: args.poll,
      follow: args.follow,
      log_dir: args["log-dir"],
      progress: args.progress,
    });
    process.stderr.write(
      `worker done: ${outcome.cells} cells measured, ${outcome.taken_over} taken over from workers whose lease ran out, ` +
        `${outcome.lost} lost to another worker, ${outcome.launches} server launches${outcome.status === "interrupted" ? " (stopped)" : ""}\n`,
    );
    return outcome.status === "interrupted" ? 130 : 0;
  } finally {
    await store.close();
  }
}
