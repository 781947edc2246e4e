import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { openRunHistory } from "../../storage/openRunHistory.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { withRunArgument } from "../historyOptions.js";

const builder = (yargs: Argv) =>
  withRunArgument(yargs).example(
    "$0 accept last",
    "The last run becomes the baseline of its model and workload",
  );

type AcceptArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench accept RUN`: the run becomes the baseline `regress --baseline accepted` compares against. */
export const acceptCommand: CommandModule<object, AcceptArgs> = {
  builder: builder as unknown as CommandModule<object, AcceptArgs>["builder"],
  async handler(argv) {
    const store = await openRunHistory(argv.db);
    try {
      const history = store.history;
      const entry = await history.accept(await history.resolveRun(argv.run));
      const run = await history.readRun(entry.run_id);
      process.stdout.write(
        `run ${entry.run_id} is the accepted baseline of ${sanitizeText(entry.model ?? "(no model)")}, ${sanitizeText(run.workload ?? "its workload")}\n`,
      );
    } finally {
      await store.close();
    }
  },
};
