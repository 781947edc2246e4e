import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { colorEnabled } from "../../output/createTable.js";
import { writeRunJson } from "../../output/writeRunJson.js";
import { RunStore } from "../../storage/RunStore.js";
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

/** `tokbench show RUN`: a stored run, as printed when it ran, or its JSON result. */
export const showCommand: CommandModule<object, ShowArgs> = {
  builder: builder as unknown as CommandModule<object, ShowArgs>["builder"],
  async handler(argv) {
    const store = RunStore.open(argv.db);
    try {
      const history = store.history();
      const runId = await history.resolveRun(argv.run);
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
      store.close();
    }
  },
};
