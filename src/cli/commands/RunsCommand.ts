import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { openRunHistory } from "../../storage/openRunHistory.js";
import type { StoredRunStatus } from "../../storage/RunStore.js";
import { terminalSafeJson } from "../../text/sanitizeText.js";
import { withDbOption } from "../historyOptions.js";
import { parseSince } from "../parseSince.js";

const STATUSES = ["running", "completed", "interrupted", "aborted", "incomplete"] as const;

const builder = (yargs: Argv) =>
  withDbOption(yargs)
    .option("model", { type: "string", description: "Runs whose model name or file contains this text" })
    .option("target", {
      type: "string",
      description: "Runs of this target kind (openai-chat, ollama, embedded, ...)",
    })
    .option("tag", { type: "string", description: "Runs with this tag (bench --tag)" })
    .option("since", { type: "string", description: "Runs started since a duration ago (7d, 12h) or a date" })
    .option("status", { choices: STATUSES, description: "Runs in this state" })
    .option("limit", {
      type: "number",
      default: 20,
      description: "Newest runs shown (0: all)",
    })
    .option("json", { type: "boolean", default: false, description: "Print the list as JSON" })
    .option("sweeps", {
      type: "boolean",
      description: "List the stored sweeps instead of runs (show one with `tokbench show SWEEP`)",
    })
    .option("tunes", {
      type: "boolean",
      description: "List the stored tunes instead of runs (show one with `tokbench show TUNE`)",
    })
    .conflicts("sweeps", "tunes")
    .option("delete", {
      type: "string",
      array: true,
      description: "Delete these runs (id, unique prefix or last) with everything stored for them",
    })
    .option("prune", {
      type: "string",
      description:
        "Retention: delete runs started more than this long ago (90d, 12w) or before a date; accepted baselines are kept",
    })
    .example("$0 runs", "The 20 newest runs")
    .example(
      "$0 runs --model llama --since 7d --status completed",
      "Last week's completed runs of llama models",
    )
    .example("$0 runs --sweeps", "The stored sweeps")
    .example("$0 runs --delete 3f2a9c1e", "Delete one run")
    .example("$0 runs --prune 90d", "Delete runs older than 90 days");

type RunsArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench runs`: list, delete and prune stored runs. */
export const runsCommand: CommandModule<object, RunsArgs> = {
  builder: builder as unknown as CommandModule<object, RunsArgs>["builder"],
  async handler(argv) {
    const limit = argv.limit;
    if (!Number.isInteger(limit) || limit < 0) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `--limit must be a whole number >= 0, got ${String(limit)}`,
      );
    }
    const store = await openRunHistory(argv.db);
    try {
      const history = store.history;
      if (argv.delete !== undefined || argv.prune !== undefined) {
        const ids = await Promise.all((argv.delete ?? []).map((ref) => history.resolveRun(ref)));
        if (argv.prune !== undefined) {
          ids.push(
            ...(await history.runsStartedBefore(parseSince("prune", argv.prune), { keepAccepted: true })),
          );
        }
        const unique = [...new Set(ids)];
        const deleted = await history.deleteRuns(unique);
        if (argv.json) process.stdout.write(`${terminalSafeJson({ deleted: unique }, 2)}\n`);
        else
          process.stdout.write(
            `deleted ${deleted} run${deleted === 1 ? "" : "s"}${unique.length > 0 ? `: ${unique.join(", ")}` : ""}\n`,
          );
        return;
      }
      // Sweeps and tunes are read through the same history as runs, from either store.
      if (argv.sweeps === true) {
        const sweeps = await history.listSweeps(limit === 0 ? undefined : limit);
        const { renderSweepList } = await import("../../output/terminal/renderRunList.js");
        const text = argv.json ? terminalSafeJson({ sweeps }, 2) : renderSweepList(sweeps);
        process.stdout.write(`${text}\n`);
        return;
      }
      if (argv.tunes === true) {
        const tunes = await history.listTunes(limit === 0 ? undefined : limit);
        const { renderTuneList } = await import("../../output/terminal/renderRunList.js");
        const text = argv.json ? terminalSafeJson({ tunes }, 2) : renderTuneList(tunes);
        process.stdout.write(`${text}\n`);
        return;
      }
      const { runs, total } = await history.listRuns({
        ...(argv.model === undefined ? {} : { model: argv.model }),
        ...(argv.target === undefined ? {} : { target: argv.target }),
        ...(argv.tag === undefined ? {} : { tag: argv.tag }),
        ...(argv.since === undefined ? {} : { since: parseSince("since", argv.since) }),
        ...(argv.status === undefined ? {} : { status: argv.status as StoredRunStatus }),
        ...(limit === 0 ? {} : { limit }),
      });
      if (argv.json) {
        // Compact, in one JSON.stringify and one terminal-safety pass: for 10,000 runs that is about
        // half the time of a stringify per run (which printed one run per line), and no indentation
        // keeps it 4.4 MB rather than 6.3 MB.
        process.stdout.write(`${terminalSafeJson({ total, runs })}\n`);
      } else {
        // The table renderer (cli-table3, string-width) only where a table is printed.
        const { renderRunList } = await import("../../output/terminal/renderRunList.js");
        process.stdout.write(`${renderRunList(runs, total)}\n`);
      }
    } finally {
      await store.close();
    }
  },
};
