import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { RegressionReport, RegressionThresholds } from "../../compare/judgeRegression.js";
import { isTokbenchError, TokbenchError } from "../../errors/TokbenchError.js";
import { openRunHistory } from "../../storage/openRunHistory.js";
import { terminalSafeJson } from "../../text/sanitizeText.js";
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
  min_baseline_runs: 3,
  long_short_itl_ratio: 1.3,
} as const;
/** Earlier accepted baselines read to measure run-to-run noise, by default. */
const NOISE_RUNS = 9;
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
      description: "Run to judge (id, unique prefix or last) (default: last)",
    })
    .option("rerun", {
      type: "boolean",
      default: false,
      description:
        "Measure the baseline's configuration now (same target and model, tests, knobs, repetitions, load and workload), store it, and judge that run; `accepted`: the latest accepted baseline",
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
    .option("noise-runs", {
      type: "number",
      default: NOISE_RUNS,
      description:
        "With --baseline accepted: earlier accepted baselines of the model and workload whose spread is the run-to-run noise; from 3 baseline runs on, test rows are judged between runs (0: never)",
    })
    .option("short-run", {
      type: "string",
      description:
        "A run of the same model with short prompts: the current run's p95 inter-token latency (long prompts) must stay within --max-long-short-itl of it",
    })
    .option("max-long-short-itl", {
      type: "number",
      default: DEFAULT_THRESHOLDS.long_short_itl_ratio,
      description: "Tolerated ratio of p95 inter-token latency with long prompts to that with short ones",
    })
    .option("format", {
      choices: ["text", "md", "json"] as const,
      default: "text" as const,
      description: "Output format (md: for a pull-request comment)",
    })
    .example("$0 regress --current last", "Judge the last run against the accepted baseline (exit 0/1/2)")
    .example("$0 regress --baseline 3f2a --current 9b1c --format md", "Against a given run, as Markdown")
    .example(
      "$0 regress --baseline accepted --rerun",
      "Measure the accepted baseline's configuration again and judge it (CI)",
    );

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
  if (!(argv.maxLongShortItl >= 1))
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--max-long-short-itl must be a ratio >= 1, got ${argv.maxLongShortItl}`,
    );
  thresholds.long_short_itl_ratio = argv.maxLongShortItl;
  const noiseRuns = argv.noiseRuns;
  if (!Number.isInteger(noiseRuns) || noiseRuns < 0)
    throw new TokbenchError("INVALID_ARGUMENT", `--noise-runs must be a whole number >= 0, got ${noiseRuns}`);
  const [{ loadComparableRun }, { finalize, judgeLongShortItl, judgeRegression }] = await Promise.all([
    import("../../compare/ComparableRun.js"),
    import("../../compare/judgeRegression.js"),
  ]);
  if (argv.rerun && argv.current !== undefined)
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--rerun measures the run it judges: give --baseline, not --current",
    );
  const store = await openRunHistory(argv.db);
  try {
    const history = store.history;
    // With --rerun the baseline is known first, and the run to judge is measured from it.
    let rerunOf: string | null = null;
    if (argv.rerun) {
      if (argv.baseline === "accepted") {
        const latest = await history.latestAcceptedBaseline();
        if (latest === null)
          throw new TokbenchError(
            "RUN_NOT_FOUND",
            "no accepted baseline to re-run: accept one with `tokbench accept RUN` or give --baseline RUN",
          );
        rerunOf = latest.run_id;
      } else {
        rerunOf = await history.resolveRun(argv.baseline);
      }
      const { rerunBaseline } = await import("../rerunBaseline.js");
      const stored = await history.readRun(rerunOf);
      argv.current = await rerunBaseline(rerunOf, stored.config, argv.db);
    }
    const currentId = await history.resolveRun(argv.current ?? "last");
    const current = await loadComparableRun(history, currentId);
    let baselineId: string;
    let referenceIds: string[] = [];
    if (argv.baseline === "accepted") {
      const key = current.run.workload_key;
      const accepted =
        key === null
          ? []
          : (await history.acceptedBaselines(current.run.model, key, noiseRuns + 1)).filter(
              (e) => e.run_id !== currentId,
            );
      // The re-run baseline is the baseline; the others accepted for its model and workload, the noise.
      const entry =
        rerunOf === null ? (accepted[0] ?? null) : (accepted.find((e) => e.run_id === rerunOf) ?? null);
      referenceIds = entry === null ? [] : accepted.filter((e) => e !== entry).map((e) => e.run_id);
      if (entry === null && rerunOf !== null) {
        // The re-run was measured under another workload or model key: the judgment says so.
        baselineId = rerunOf;
      } else if (entry === null) {
        throw new TokbenchError(
          "RUN_NOT_FOUND",
          `no accepted baseline for model ${current.run.model ?? "-"} and workload ${current.run.workload ?? "-"}: accept one with \`tokbench accept RUN\` or give --baseline RUN`,
        );
      } else {
        baselineId = entry.run_id;
      }
    } else {
      baselineId = rerunOf ?? (await history.resolveRun(argv.baseline));
    }
    const references = await Promise.all(referenceIds.map((id) => loadComparableRun(history, id)));
    const baseline = await loadComparableRun(history, baselineId);
    const report = judgeRegression(baseline, current, thresholds, references);
    if (argv.shortRun === undefined) return report;
    // The long/short rule: the current run (long prompts) against a run of short prompts.
    const short = await loadComparableRun(history, await history.resolveRun(argv.shortRun));
    const finding =
      short.run.model === current.run.model
        ? judgeLongShortItl(short, current, thresholds)
        : {
            ...judgeLongShortItl(short, current, thresholds),
            worse_pct: null,
            p_value: null,
            status: "cannot judge" as const,
            reason: `--short-run ${short.run.run_id} is of another model (${short.run.model ?? "-"})`,
          };
    // A verdict refused for the runs themselves (other workload, knobs) stays refused.
    if (report.findings.length === 0 && report.exit_code === 2) return { ...report, findings: [finding] };
    return finalize(baseline, current, [...report.findings, finding], report.comparison);
  } finally {
    await store.close();
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
        ? terminalSafeJson(report, 2)
        : argv.format === "md"
          ? renderRegressionMarkdown(report)
          : renderRegressionText(report);
    process.stdout.write(`${text}\n`);
    process.exitCode = report.exit_code;
  },
};
