import cliProgress from "cli-progress";
import { EMBEDDED_DEFAULTS, runEmbeddedBench } from "../../../benchmark/runEmbeddedBench.js";
import { isEngineEnvApplied, relaunchWithEngineEnv } from "../../../engine/native/engineProcessEnv.js";
import { getTunedLlama } from "../../../engine/native/getTunedLlama.js";
import { GraphObserver } from "../../../engine/observe/GraphObserver.js";
import { renderEmbeddedTable } from "../../../output/terminal/renderEmbeddedTable.js";
import { renderObservation } from "../../../output/terminal/renderObservation.js";
import { collectMachineInfo } from "../../../system/machineInfo.js";
import { ResourceSampler } from "../../../system/ResourceSampler.js";
import { type EmbeddedArgs, parseEmbeddedArgs } from "./embeddedOptions.js";
import { type CommonArgs, loadOptionsFromArgs } from "./loadOptionsFromArgs.js";
import { type ConsumerArgs, runWithConsumers } from "./runWithConsumers.js";

/** Flags of an embedded run. */
export type EmbeddedBenchArgs = EmbeddedArgs & CommonArgs & ConsumerArgs & { model?: string | undefined };

/**
 * `tokbench bench` without `--url`: the embedded engine. With --pp/--tg/--pg it runs the
 * llama-bench tests; with --requests/--duration/--rate/--prompt-file the request workload; with
 * neither, both (pp512, tg128 and the default request workload) on the given or default model.
 * Returns the exit code.
 */
export async function runEmbeddedBenchCommand(rawArgs: Record<string, unknown>): Promise<number> {
  const args = rawArgs as unknown as EmbeddedBenchArgs;
  const parsed = parseEmbeddedArgs(args);
  const { load, workload } = loadOptionsFromArgs(args);
  const requestsAsked =
    args.requests !== undefined ||
    args.duration !== undefined ||
    args.rate !== undefined ||
    args["prompt-file"] !== undefined;
  const plan =
    parsed.plan ??
    (requestsAsked
      ? null
      : { pp: [...EMBEDDED_DEFAULTS.pp], tg: [...EMBEDDED_DEFAULTS.tg], pg: [], depth: [0] });
  // An observation run observes the llama-bench tests only (runEmbeddedBench refuses requests).
  const runRequests = requestsAsked || (parsed.plan === null && parsed.observe === null);
  // The graph observer must be in the process before node-llama-cpp loads its binding.
  const observer = parsed.observe === null ? null : GraphObserver.load();
  // The tuned local build of llama.cpp (`npm run build:engine`) when there is one, else the
  // prebuilt binary. The tuned build needs one libuv pool thread, which only a fresh process can
  // have: then tokbench runs itself again with that environment (docs/engine-speed.md).
  const tuned =
    parsed.gpu === "auto" || parsed.gpu === false ? await getTunedLlama({ gpu: parsed.gpu }) : null;
  if (tuned?.build === "native" && !isEngineEnvApplied()) {
    await tuned.llama.dispose();
    return relaunchWithEngineEnv();
  }
  const machine = await collectMachineInfo({ engine: "node-llama-cpp" });
  const sampler = new ResourceSampler();
  const showProgress = args.progress && process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | null = null;
  return runWithConsumers(
    args,
    runRequests ? load.requests : null,
    [],
    async (consumers) => {
      // A quit at once must not leave the sampler's nvidia-smi children behind.
      consumers.onQuit(() => sampler.stop());
      sampler.start();
      try {
        return await runEmbeddedBench({
          model: args.model === undefined || args.model === "" ? null : args.model,
          plan,
          repetitions: parsed.repetitions,
          knobs: parsed.knobs,
          warmup: parsed.warmup,
          requests: runRequests ? { load, workload } : null,
          trace: parsed.trace,
          observe: observer === null || parsed.observe === null ? null : { observer, what: parsed.observe },
          gpu: parsed.gpu,
          ...(tuned === null ? {} : { llama: tuned.llama, default_threads: tuned.defaultThreads }),
          machine,
          onRunStart: consumers.onRunStart,
          hooks: consumers.hooks,
          stopResources: () => sampler.stop(),
          resourceTimeline: () => sampler.timeline(),
          requestLog: consumers.requestLog,
          signal: consumers.signal,
          on_test_progress: (done, total, label) => {
            if (!showProgress) return;
            bar ??= new cliProgress.SingleBar(
              { stream: process.stderr, format: "{bar} {value}/{total} tests | {label}", hideCursor: true },
              cliProgress.Presets.shades_classic,
            );
            if (done === 1) bar.start(total, 0, { label });
            bar.update(done, { label });
            if (done === total) bar.stop();
          },
        });
      } finally {
        (bar as cliProgress.SingleBar | null)?.stop();
        sampler.stop();
      }
    },
    (result) => [renderEmbeddedTable(result), renderObservation(result)].filter((s) => s !== "").join("\n"),
  );
}
