import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { RegressionReport, RegressionThresholds } from "../../compare/judgeRegression.js";
import { isTokbenchError, TokbenchError } from "../../errors/TokbenchError.js";
import { RunStore } from "../../storage/RunStore.js";
import { withDbOption } from "../historyOptions.js";

/** The defaults of `judgeRegression` (DEFAULT_THRESHOLDS), repeated here so that help needs no statistics library; a test keeps them equal. */
export const REGRESS_DEFAULTS = {
  decode_drop_pct: 12,
  decode_drop_long_pct: 15,
  prefill_drop_pct: 12,
  p95_increase_pct: 10,
  long_prompt_tokens: 1024,
  alpha: 0.05,
  min_repetitions: 3,
} as const;
const DEFAULT_THRESHOLDS = REGRESS_DEFAULTS;

const builder = (yargs: Argv) =>
  withDbOption(yargs)
    .option("baseline", {
      type: "string",
      default: "accepted",
      description:
        "Baseline run (id, unique prefix or last) or `accepted`: the latest run accepted for the current run's model and workload",
    })
    .option("current", {
      type: "string",
      default: "last",
      description: "Run to judge (id, unique prefix or last)",
    })
    .option("max-decode-drop", {
      type: "number",
      default: DEFAULT_THRESHOLDS.decode_drop_pct,
      description: "Tolerated decode-rate drop with short prompts, %",
    })
    .option("max-decode-drop-long", {
      type: "number",
      default: DEFAULT_THRESHOLDS.decode_drop_long_pct,
      description: "Tolerated decode-rate drop with long prompts, %",
    })
    .option("max-prefill-drop", {
      type: "number",
      default: DEFAULT_THRESHOLDS.prefill_drop_pct,
      description: "Tolerated prompt-processing-rate drop, %",
    })
    .option("max-p95-increase", {
      type: "number",
      default: DEFAULT_THRESHOLDS.p95_increase_pct,
      description: "Tolerated rise of p95 latencies (TTFT, ITL, TPOT, E2E), %",
    })
    .option("long-prompt", {
      type: "number",
      default: DEFAULT_THRESHOLDS.long_prompt_tokens,
      description: "Prompt (+ depth) tokens from which a prompt is long",
    })
    .option("alpha", { type: "number", default: DEFAULT_THRESHOLDS.alpha, description: "Significance level" })
    .option("min-repetitions", {
      type: "number",
      default: DEFAULT_THRESHOLDS.min_repetitions,
      description: "Fewest repetitions a side to judge a llama-bench-style row",
    })
    .option("format", {
      choices: ["text", "md", "json"] as const,
      default: "text" as const,
      description: "Output format (md: for a pull-request comment)",
    })
    .example("$0 regress --current last", "Judge the last run against the accepted baseline (exit 0/1/2)")
    .example("$0 regress --baseline 3f2a --current 9b1c --format md", "Against a given run, as Markdown");

type RegressArgs = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>["argv"]>>;

function percent(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0)
    throw new TokbenchError("INVALID_ARGUMENT", `--${name} must be a percentage >= 0, got ${value}`);
  return value;
}

async function judge(argv: RegressArgs): Promise<RegressionReport> {
  if (!(argv.alpha > 0 && argv.alpha < 1))
    throw new TokbenchError("INVALID_ARGUMENT", `--alpha must be between 0 and 1, got ${argv.alpha}`);
  const thresholds: Partial<RegressionThresholds> = {
    decode_drop_pct: percent("max-decode-drop", argv.maxDecodeDrop),
    decode_drop_long_pct: percent("max-decode-drop-long", argv.maxDecodeDropLong),
    prefill_drop_pct: percent("max-prefill-drop", argv.maxPrefillDrop),
    p95_increase_pct: percent("max-p95-increase", argv.maxP95Increase),
    long_prompt_tokens: percent("long-prompt", argv.longPrompt),
    alpha: argv.alpha,
    min_repetitions: Math.max(2, Math.floor(argv.minRepetitions)),
  };
  const [{ loadComparableRun }, { judgeRegression }] = await Promise.all([
    import("../../compare/ComparableRun.js"),
    import("../../compare/judgeRegression.js"),
  ]);
  const store = RunStore.open(argv.db);
  try {
    const history = store.history();
    const currentId = await history.resolveRun(argv.current);
    const current = await loadComparableRun(history, currentId);
    let baselineId: string;
    if (argv.baseline === "accepted") {
      const key = current.run.workload_key;
      const entry = key === null ? null : await history.acceptedBaseline(current.run.model, key);
      if (entry === null) {
        throw new TokbenchError(
          "RUN_NOT_FOUND",
          `no accepted baseline for model ${current.run.model ?? "-"} and workload ${current.run.workload ?? "-"}: accept one with \`tokbench accept RUN\` or give --baseline RUN`,
        );
      }
      baselineId = entry.run_id;
    } else {
      baselineId = await history.resolveRun(argv.baseline);
    }
    return judgeRegression(await loadComparableRun(history, baselineId), current, thresholds);
  } finally {
    store.close();
  }
}

/** `tokbench regress`: exit 0 (no regression), 1 (regression) or 2 (cannot judge, including any error). */
export const regressCommand: CommandModule<object, RegressArgs> = {
  builder: builder as unknown as CommandModule<object, RegressArgs>["builder"],
  async handler(argv) {
    let report: RegressionReport;
    try {
      report = await judge(argv);
    } catch (error) {
      // Any error means the run could not be judged: exit 2, never 1 (which CI reads as a regression).
      const message = isTokbenchError(error)
        ? `${error.message} [${error.code}]`
        : `internal error: ${String(error)}`;
      process.stderr.write(`tokbench regress: cannot judge: ${message}\n`);
      process.exitCode = 2;
      return;
    }
    const { renderRegressionMarkdown, renderRegressionText } = await import(
      "../../output/terminal/renderComparison.js"
    );
    const text =
      argv.format === "json"
        ? JSON.stringify(report, null, 2)
        : argv.format === "md"
          ? renderRegressionMarkdown(report)
          : renderRegressionText(report);
    process.stdout.write(`${text}\n`);
    process.exitCode = report.exit_code;
  },
};
