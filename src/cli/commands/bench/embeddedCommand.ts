import { statSync } from "node:fs";
import cliProgress from "cli-progress";
import {
  EMBEDDED_QUICK_START,
  type EmbeddedSetupProgress,
  runEmbeddedBench,
} from "../../../benchmark/runEmbeddedBench.js";
import { modelFileBytes } from "../../../engine/loadEngineModel.js";
import { isEngineEnvApplied, relaunchWithEngineEnv } from "../../../engine/native/engineProcessEnv.js";
import { getTunedLlama } from "../../../engine/native/getTunedLlama.js";
import { GraphObserver } from "../../../engine/observe/GraphObserver.js";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import { createProgressBar, type ProgressDisplay } from "../../../output/progressBar.js";
import { describeModelFile, describeRequests, describeTests } from "../../../output/runHeader.js";
import { renderEmbeddedTable } from "../../../output/terminal/renderEmbeddedTable.js";
import { renderObservation } from "../../../output/terminal/renderObservation.js";
import { formatDuration } from "../../../output/units.js";
import { collectMachineInfo } from "../../../system/machineInfo.js";
import { ResourceSampler } from "../../../system/ResourceSampler.js";
import type { StopSignals } from "../../stopSignals.js";
import { type EmbeddedArgs, parseEmbeddedArgs } from "./embeddedOptions.js";
import { type CommonArgs, loadOptionsFromArgs } from "./loadOptionsFromArgs.js";
import { type ConsumerArgs, runWithConsumers } from "./runWithConsumers.js";

/** Flags of an embedded run. */
export type EmbeddedBenchArgs = EmbeddedArgs & CommonArgs & ConsumerArgs & { model?: string | undefined };

/**
 * `tokbench bench` without `--url`: the embedded engine. With --pp/--tg/--pg it runs the
 * llama-bench tests; with --requests/--duration/--rate/--prompt-file the request workload; with
 * neither, the quick start: both, sized by {@link EMBEDDED_QUICK_START}, on the given or default
 * model. Returns the exit code.
 */
export async function runEmbeddedBenchCommand(
  rawArgs: Record<string, unknown>,
  setupStop?: StopSignals,
): Promise<number> {
  const untilStopped = <T>(work: Promise<T>): Promise<T> => setupStop?.untilStopped(work) ?? work;
  const args = rawArgs as unknown as EmbeddedBenchArgs;
  const parsed = parseEmbeddedArgs(args);
  // Checked here too, so the refusal comes before minutes of model creation and tests.
  if (parsed.trace !== null && statSync(parsed.trace.path, { throwIfNoEntry: false })?.isFile() === true) {
    throw new TokbenchError(
      "FILE_EXISTS",
      `trace file ${parsed.trace.path} already exists: remove it or name another`,
      { context: { path: parsed.trace.path } },
    );
  }
  const requestsAsked =
    args.requests !== undefined ||
    args.duration !== undefined ||
    args.rate !== undefined ||
    args["prompt-file"] !== undefined;
  // Nothing asked: the quick start, every size the user did not give taken from it.
  const quickStart = parsed.plan === null && !requestsAsked;
  const { load, workload } = loadOptionsFromArgs(
    quickStart
      ? {
          ...args,
          requests: EMBEDDED_QUICK_START.requests,
          "prompt-tokens": args["prompt-tokens"] ?? EMBEDDED_QUICK_START.prompt_tokens,
          "max-tokens": args["max-tokens"] ?? EMBEDDED_QUICK_START.max_tokens,
        }
      : args,
    `--server embedded --model-file ${args.model ? JSON.stringify(args.model) : "MODEL.gguf"}`,
  );
  const plan = quickStart
    ? { pp: [...EMBEDDED_QUICK_START.pp], tg: [...EMBEDDED_QUICK_START.tg], pg: [], depth: [0] }
    : parsed.plan;
  const repetitions =
    quickStart && args.repetitions === undefined ? EMBEDDED_QUICK_START.repetitions : parsed.repetitions;
  // Every flag checked, a missing model file is refused before the database is opened (and
  // created) or the engine loaded.
  if (args.model !== undefined && args.model !== "") await modelFileBytes(args.model);
  // An observation run observes the llama-bench tests only (runEmbeddedBench refuses requests).
  const runRequests = requestsAsked || (quickStart && parsed.observe === null);
  // The graph observer must be in the process before node-llama-cpp loads its binding.
  const observer = parsed.observe === null ? null : GraphObserver.load();
  // The tuned local build of llama.cpp (`tokbench engine build`) when there is one, else the
  // prebuilt binary. The tuned build needs one libuv pool thread, which only a fresh process can
  // have: then tokbench runs itself again with that environment (docs/engine-speed.md).
  const tuned =
    parsed.gpu === "auto" || parsed.gpu === false
      ? await untilStopped(getTunedLlama({ gpu: parsed.gpu }))
      : null;
  if (tuned?.build === "native" && !isEngineEnvApplied()) {
    await tuned.llama.dispose();
    setupStop?.throwIfStopped();
    // The relaunched process hears the signals (forwarded): this one only waits for it, and a
    // second signal must not make it quit under its child.
    setupStop?.close();
    return relaunchWithEngineEnv();
  }
  const machine = await untilStopped(collectMachineInfo({ engine: "node-llama-cpp" }));
  const sampler = new ResourceSampler();
  const showProgress = args.progress && process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | null = null;
  const setup = setupProgress(args.progress);
  const workloadText = [
    plan === null ? null : describeTests(plan, repetitions),
    runRequests ? describeRequests(load, workload) : null,
  ]
    .filter((part) => part !== null)
    .join(" + ");
  let threadsUsed: number[] = [];
  const exitCode = await runWithConsumers(
    args,
    runRequests ? load.requests : null,
    [],
    async (consumers) => {
      // A signal while the consumers started (telemetry) came before the run's own handle.
      setupStop?.throwIfStopped();
      // A quit at once must not leave the sampler's nvidia-smi children behind.
      consumers.onQuit(() => sampler.stop());
      try {
        return await runEmbeddedBench({
          model: args.model === undefined || args.model === "" ? null : args.model,
          plan,
          repetitions,
          knobs: parsed.knobs,
          warmup: parsed.warmup,
          requests: runRequests ? { load, workload } : null,
          trace: parsed.trace,
          observe: observer === null || parsed.observe === null ? null : { observer, what: parsed.observe },
          gpu: parsed.gpu,
          ...(tuned === null ? {} : { llama: tuned.llama, default_threads: tuned.defaultThreads }),
          machine,
          on_setup_progress: setup.report,
          on_plan: (p) => {
            setup.done();
            if (p.model_created) {
              process.stderr.write(
                `created the default model (Qwen2.5-0.5B's shape, synthetic weights) in ${formatDuration(setup.modelMs())}: ${p.model_path}\n`,
              );
            }
            threadsUsed = p.knobs.threads;
            consumers.announce({
              target: `${describeModelFile(p.model_path, p.file_bytes, p.inspection)} in-process`,
              workload: workloadText,
            });
            // Sampling starts once the header is out: model creation is not part of the run.
            sampler.start();
          },
          onRunStart: consumers.onRunStart,
          hooks: consumers.hooks,
          stopResources: () => sampler.stop(),
          resourceTimeline: () => sampler.timeline(),
          requestLog: consumers.requestLog,
          signal: consumers.signal,
          on_test_progress: (done, total, label) => {
            setup.done();
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
        setup.done();
        (bar as cliProgress.SingleBar | null)?.stop();
        sampler.stop();
      }
    },
    (result) => [renderEmbeddedTable(result), renderObservation(result)].filter((s) => s !== "").join("\n"),
    // Creating the default model and probing the bandwidth stop at once on a signal and end the
    // command with one line (runEmbeddedBench's RUN_INTERRUPTED): nothing to say before that.
    { quietUntilStarted: true },
  );
  if (tuned?.build === "prebuilt" && tuned.llama.gpu === false) {
    process.stderr.write(`${prebuiltEngineNote(threadsUsed, tuned.llama.cpuMathCores)}\n`);
  }
  return exitCode;
}

/**
 * The one line every CPU run on node-llama-cpp's prebuilt binary ends with: what the binary costs
 * (docs/engine-speed.md: per-token thread creation and a pure spin barrier, so 2-thread decode runs
 * at about half of llama-bench's rate) and the command that lifts it.
 */
export function prebuiltEngineNote(threads: readonly number[], mathCores: number): string {
  const onlyOne = threads.length === 1 && threads[0] === 1 && mathCores > 1;
  const limit = onlyOne
    ? `it decodes slower with more threads, so 1 of ${mathCores} cores was used`
    : "its decode with 2+ threads runs at about half of llama-bench's rate";
  return `note: prebuilt llama.cpp binary: ${limit}; \`tokbench engine build\` (once, offline, 5-20 min) lifts this (docs/engine-speed.md)`;
}

/** Bars for the first-use steps (model creation, bandwidth probe), one after the other. */
function setupProgress(enabled: boolean): {
  report: (event: EmbeddedSetupProgress) => void;
  done: () => void;
  modelMs: () => number;
} {
  let current: { phase: EmbeddedSetupProgress["phase"]; display: ProgressDisplay } | null = null;
  let modelStart: number | null = null;
  let modelEnd: number | null = null;
  const labels = {
    model: "creating the default model (first run only)",
    bandwidth: "probing memory bandwidth (first run only)",
  } as const;
  const finish = () => {
    current?.display.stop();
    if (current?.phase === "model") modelEnd ??= performance.now();
    current = null;
  };
  return {
    report(event) {
      if (event.phase === "model") modelStart ??= performance.now();
      if (current?.phase !== event.phase) {
        finish();
        current = {
          phase: event.phase,
          display: createProgressBar(
            labels[event.phase],
            event.phase === "model" ? "bytes" : "steps",
            enabled,
          ),
        };
      }
      current.display.update(event.done, event.total);
    },
    done: finish,
    modelMs: () => (modelStart === null ? 0 : (modelEnd ?? performance.now()) - modelStart),
  };
}
