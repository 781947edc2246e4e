import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { RepetitionTest } from "../../compare/compareRuns.js";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { openRunHistory } from "../../storage/openRunHistory.js";
import { terminalSafeJson } from "../../text/sanitizeText.js";
import { withDbOption } from "../historyOptions.js";

const builder = (yargs: Argv) =>
  withDbOption(yargs)
    .positional("runs", {
      type: "string",
      array: true,
      demandOption: true,
      description: "Two or more runs (id, unique prefix or last); the first is the reference",
    })
    .option("format", {
      choices: ["table", "md", "json"] as const,
      default: "table" as const,
      description: "Output format (md: for a pull-request comment)",
    })
    .option("alpha", { type: "number", default: 0.05, description: "Significance level of the verdicts" })
    .option("test", {
      choices: ["welch", "mann-whitney"] as const,
      default: "welch" as const,
      description: "Significance test for repetitions of llama-bench-style rows",
    })
    .example("$0 compare 3f2a 9b1c", "Two runs side by side, with a verdict per row")
    .example("$0 compare 3f2a last --format md >> comment.md", "The same, as Markdown");

type CompareArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

/** `tokbench compare A B [C ...]`. */
export const compareCommand: CommandModule<object, CompareArgs> = {
  builder: builder as unknown as CommandModule<object, CompareArgs>["builder"],
  async handler(argv) {
    const refs = (argv.runs as string[]) ?? [];
    if (refs.length < 2) throw new TokbenchError("INVALID_ARGUMENT", "compare needs at least two runs");
    if (!(argv.alpha > 0 && argv.alpha < 1))
      throw new TokbenchError("INVALID_ARGUMENT", `--alpha must be between 0 and 1, got ${argv.alpha}`);
    // Loaded when used: the statistics libraries need not slow every other command's start.
    const [{ loadComparableRun }, { compareRuns }, { renderComparisonMarkdown, renderComparisonTable }] =
      await Promise.all([
        import("../../compare/ComparableRun.js"),
        import("../../compare/compareRuns.js"),
        import("../../output/terminal/renderComparison.js"),
      ]);
    const store = await openRunHistory(argv.db);
    try {
      const history = store.history;
      const runs = [];
      for (const ref of refs) runs.push(await loadComparableRun(history, await history.resolveRun(ref)));
      const comparison = compareRuns(runs, {
        alpha: argv.alpha,
        repetitionTest: argv.test as RepetitionTest,
      });
      const text =
        argv.format === "json"
          ? terminalSafeJson(comparison, 2)
          : argv.format === "md"
            ? renderComparisonMarkdown(comparison)
            : renderComparisonTable(comparison);
      process.stdout.write(`${text}\n`);
    } finally {
      await store.close();
    }
  },
};
