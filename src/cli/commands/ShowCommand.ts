import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { isTokbenchError } from "../../errors/TokbenchError.js";
import { colorEnabled } from "../../output/createTable.js";
import { writeRunJson } from "../../output/writeRunJson.js";
import { openRunHistory } from "../../storage/openRunHistory.js";
import type { RunHistory } from "../../storage/RunHistory.js";
import { terminalSafeJson } from "../../text/sanitizeText.js";
import { withRunArgument } from "../historyOptions.js";

const builder = (yargs: Argv) =>
  withRunArgument(yargs)
    .option("json", {
      type: "boolean",
      default: false,
      description: "Print the run's JSON result, as `bench --json` printed it",
    })
    .example("$0 show last", "What the last run printed")
    .example("$0 show 3f2a --json > run.json", "A run's full JSON result, requests included");

type ShowArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** ANSI color sequences, which a stored table holds when it was printed on a color terminal. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the escape character is the point.
const ANSI = /\u001b\[[0-9;]*m/g;

/** Prints the sweep or tune `argv.run` names; false when there is none. */
async function showSweepOrTune(history: RunHistory, argv: ShowArgs): Promise<boolean> {
  const find = async <T>(get: () => Promise<T>): Promise<T | null> => {
    try {
      return await get();
    } catch (error) {
      if (isTokbenchError(error) && (error.code === "SWEEP_NOT_FOUND" || error.code === "TUNE_NOT_FOUND"))
        return null;
      throw error;
    }
  };
  const sweep = await find(() => history.readSweep(argv.run));
  const tune = sweep === null ? await find(() => history.readTune(argv.run)) : null;
  if (sweep === null && tune === null) return false;
  const { renderStoredSweep, renderStoredTune } = await import("../../output/terminal/renderRunList.js");
  let text: string;
  if (sweep !== null) {
    text = argv.json
      ? terminalSafeJson({ ...sweep, pending_replicates: Object.fromEntries(sweep.pending_replicates) }, 2)
      : renderStoredSweep(sweep);
  } else {
    text = argv.json ? terminalSafeJson(tune, 2) : renderStoredTune(tune as NonNullable<typeof tune>);
  }
  process.stdout.write(`${text}\n`);
  return true;
}

/** `tokbench show RUN`: a stored run, as printed when it ran, or its JSON result; or a stored sweep or tune. */
export const showCommand: CommandModule<object, ShowArgs> = {
  builder: builder as unknown as CommandModule<object, ShowArgs>["builder"],
  async handler(argv) {
    const store = await openRunHistory(argv.db);
    try {
      const history = store.history;
      let runId: string;
      try {
        runId = await history.resolveRun(argv.run);
      } catch (error) {
        // Not a run: a sweep or a tune by id or prefix (8 characters or more), shown the same way.
        if (
          !isTokbenchError(error) ||
          error.code !== "RUN_NOT_FOUND" ||
          !(await showSweepOrTune(history, argv))
        )
          throw error;
        return;
      }
      const run = await history.readRun(runId);
      if (argv.json) {
        await writeRunJson(run, history.requests(runId), process.stdout);
        return;
      }
      const text = await history.terminalText(runId);
      if (text !== null) {
        process.stdout.write(colorEnabled() ? text : text.replace(ANSI, ""));
        return;
      }
      // A run that died, or one stored before tokbench kept what runs print.
      process.stdout.write(
        `run ${run.run_id} (${run.status}) started ${run.started_at}: ${run.request_count} requests stored; ` +
          "nothing printed was kept (--json shows what is stored)\n",
      );
    } finally {
      await store.close();
    }
  },
};
