import type { Argv } from "yargs";
import { FORCE_OPTION } from "../../refuseExistingOutput.js";
import { withSweepOptions } from "../sweep/sweepOptions.js";

/**
 * The flags of `tokbench tune`: the sweep's server, knob, workload and gate flags (the same
 * contract), and the tune's own. The ones in issue 11's Command section are a contract.
 */
export function withTuneOptions<T>(yargs: Argv<T>) {
  return withSweepOptions(yargs, "tune")
    .option("candidates", {
      type: "string",
      array: true,
      group: "Tune:",
      description:
        "Candidate model files, in the order that decides: the first that is feasible at the default knobs is tuned, the later ones are never measured (default: --model-file largest first)",
    })
    .option("replay", {
      type: "string",
      group: "Tune:",
      description:
        "Tune against recorded measurements instead of a live server: a JSONL file (`tokbench sweep --cells-out`) or a sweep id in the database",
    })
    .option("objective", {
      choices: ["throughput", "latency", "goodput"] as const,
      group: "Tune:",
      description:
        "What to optimise: output tok/s, lowest TTFT p95, or requests/s within the budgets (default throughput)",
    })
    .option("replicates", {
      type: "number",
      group: "Tune:",
      description:
        "Measurements per trial: the median is the figure, feasible only if every one is (default 3)",
    })
    .option("max-trials", {
      type: "number",
      group: "Tune:",
      description:
        "Trials at most, probes, baseline and drift anchors included (default: 10 % of the knob grid, at least 10, plus one per candidate)",
    })
    .option("time-budget", {
      type: "string",
      group: "Tune:",
      description: "Measuring time at most: seconds, or 90s, 20m, 2h (default: none)",
    })
    .option("tie-band", {
      type: "number",
      group: "Tune:",
      description:
        "Percent within which two configurations tie and the lower TTFT p95 wins (default: the noise seen in the replicates)",
    })
    .option("strategy", {
      choices: ["coordinate", "model", "neighbourhood", "random"] as const,
      group: "Tune:",
      description:
        "Search strategy (default coordinate, chosen by bench/tuneReplay.ts; model: an additive model of the knobs, better from an arbitrary --baseline)",
    })
    .option("anchor-every", {
      type: "number",
      group: "Tune:",
      description: "Re-measure the baseline after this many trials to see drift; 0 never (default 8)",
    })
    .option("baseline", {
      type: "string",
      array: true,
      group: "Tune:",
      description:
        "The default configuration the search starts from, NAME=value (repeatable; default: the server's own defaults, or the nearest listed value)",
    })
    .option("out", {
      type: "string",
      group: "Output:",
      description: "Write the recipe (JSON) to this file",
    })
    .option("force", { ...FORCE_OPTION, group: "Output:" })
    .option("apply", {
      type: "string",
      group: "Output:",
      description:
        "Write the recommendation where the server reads it: llama-server env file (LLAMA_ARG_*), Ollama Modelfile (+ PATH.env), vLLM/SGLang YAML config, a shell script for a template. An existing file is kept as PATH.bak[.N]",
    })
    .option("resume", {
      type: "string",
      group: "Tune:",
      description: "Continue an interrupted or killed tune by its id: stored trials are not measured again",
    });
}
