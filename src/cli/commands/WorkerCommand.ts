import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";

const builder = (yargs: Argv) =>
  yargs
    .option("db", {
      type: "string",
      description:
        "The team's PostgreSQL database holding the sweeps (postgres://user@host/db; default: TOKBENCH_DB). Put the password in PGPASSWORD or TOKBENCH_DB, not on the command line",
    })
    .option("sweep", {
      type: "string",
      description:
        "Work on this sweep only (its id) and return when it is done (default: every running sweep)",
    })
    .option("lease", {
      type: "number",
      default: 30,
      description:
        "Seconds a claimed cell stays held without renewal (renewed every third of it): if this worker dies, another takes its cell over after this",
    })
    .option("poll", {
      type: "number",
      default: 2,
      description: "Seconds between looks at the queue when nothing can be claimed",
    })
    .option("follow", {
      type: "boolean",
      default: false,
      description: "Keep waiting for new sweeps when none has work left (default: return)",
    })
    .option("log-dir", {
      type: "string",
      description:
        "Folder for the logs of the servers this worker launches (default: in tokbench's data directory)",
    })
    .option("progress", {
      type: "boolean",
      default: true,
      description: "A line per claimed and finished cell on stderr (--no-progress)",
    })
    .example(
      "TOKBENCH_DB=postgres://me:secret@db.team/tokbench $0 worker",
      "Measure cells of the team's running sweeps that this machine's class may run, until none is left",
    )
    .example("$0 worker --db postgres://me@db.team/tokbench --sweep 3f2c9a1e --lease 60", "Help one sweep");

type WorkerArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/**
 * `tokbench worker`: works on sweeps queued in a PostgreSQL database (`tokbench sweep --db
 * postgres://...`) alongside workers on other machines: claims cells under a lease, runs them with
 * the usual launcher and gate, stores their runs and results. Exit code 0 when no work is left,
 * 130 when stopped (its cell goes back to the queue).
 */
export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: "worker",
  describe: "Work on sweeps queued in a team's PostgreSQL database, alongside workers on other machines",
  builder: builder as unknown as CommandModule<object, WorkerArgs>["builder"],
  async handler(argv) {
    const { runWorkerCommand } = await import("./worker/runWorkerCommand.js");
    process.exitCode = await runWorkerCommand(argv);
  },
};
