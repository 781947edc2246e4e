import { randomUUID } from "node:crypto";
import type { Llama } from "node-llama-cpp";
import type { BenchRow, LoadRow } from "../engine/BenchRow.js";
import { type DefaultModelSpec, ensureDefaultModel } from "../engine/defaultModelPath.js";
import { EngineBinding } from "../engine/EngineBinding.js";
import type { BenchTestPlan, EngineGridPoint, EngineKnobs } from "../engine/EngineGrid.js";
import { resolveGpuLayers } from "../engine/EngineGrid.js";
import { engineDecodeCeiling } from "../engine/engineDecodeCeiling.js";
import { type InspectedModelFile, inspectModelFile, loadEngineModel } from "../engine/loadEngineModel.js";
import type { GraphObserver, ObserveWhat } from "../engine/observe/GraphObserver.js";
import { runObservedTests } from "../engine/observe/runObservedTests.js";
import { type DecodeCeiling, runLlamaBench } from "../engine/runLlamaBench.js";
import { isTokbenchError, TokbenchError } from "../errors/TokbenchError.js";
import type { ModelInspection } from "../gguf/inspectModel.js";
import { interruptReason } from "../load/interruptReason.js";
import type { LoadOptions } from "../load/LoadOptions.js";
import type { LoadHooks } from "../load/runLoad.js";
import { RunSummarizer } from "../metrics/RunSummarizer.js";
import type { MachineInfo } from "../results/MachineInfo.js";
import type { RequestLogWriter } from "../results/RequestLog.js";
import { RequestTable } from "../results/RequestTable.js";
import type { ResourcePoint } from "../results/ResourceTimeline.js";
import type { ResourceUsage } from "../results/ResourceUsage.js";
import { RESULT_SCHEMA_VERSION, type RunResult } from "../results/RunResult.js";
import { redactSecrets } from "../secrets/redact.js";
import { EmbeddedTarget } from "../targets/embedded/EmbeddedTarget.js";
import { TOKBENCH_VERSION } from "../toolVersion.js";
import type { TraceLevel } from "../trace/TraceEvent.js";
import { TraceWriter } from "../trace/TraceWriter.js";
import type { RunStartInfo } from "./RunStartInfo.js";
import { runBenchmark } from "./runBenchmark.js";
import type { WorkloadOptions } from "./WorkloadOptions.js";

/** Defaults of the knobs, llama-bench's where it has one. */
export const EMBEDDED_DEFAULTS = {
  pp: [512],
  tg: [128],
  batch_size: 2048,
  ubatch_size: 512,
  repetitions: 5,
} as const;

/**
 * What `tokbench bench` runs when it is given no test and no workload flag: llama-bench's tests and
 * a request workload, sized so the quick start (`npm start`, the default model on 2 cores) measures
 * for about half a minute while every figure still rests on enough samples: 3 repetitions of each
 * test, 10 requests (the fewest that give a p90 of TTFT and latency) whose 47 decode steps each
 * give 470 inter-token latencies.
 */
export const EMBEDDED_QUICK_START = {
  pp: [256],
  tg: [64],
  repetitions: 3,
  requests: 10,
  prompt_tokens: 128,
  max_tokens: 48,
} as const;

/** Everything an embedded run needs. */
export interface EmbeddedBenchOptions {
  /** GGUF file; null runs the default synthetic model (created in the cache directory on first use). */
  model: string | null;
  /** llama-bench tests; null for none. */
  plan: BenchTestPlan | null;
  /** Timed repetitions of every test. Defaults to 5. */
  repetitions?: number;
  /** Knob lists; an empty list takes the default (threads: `default_threads`, batch 2048, ubatch 512, ...). */
  knobs: EngineKnobs;
  /** llama-bench's untimed warmup run per test. Defaults to true. */
  warmup?: boolean;
  /** Request-shaped workload through the load generator; null for none. */
  requests: { load: LoadOptions; workload: WorkloadOptions } | null;
  /** Per-step trace; null for none. */
  trace?: { path: string; level: TraceLevel } | null;
  /**
   * Observe inside the steps instead of measuring speed (`--experts`, `--layers`; graph tensors too with a verbose trace):
   * the tests run on one configuration with the graph observer, which must have been loaded before
   * the binding (`GraphObserver.load()` before `getLlama`). The result then has no `tests[]` rows,
   * only `observation`, `expert_usage` and `layer_timing`. Null: a plain benchmark. Defaults to null.
   */
  observe?: { observer: GraphObserver; what: ObserveWhat } | null;
  /** Backend for a binding tokbench opens itself. Defaults to "auto". */
  gpu?: "auto" | "cuda" | "vulkan" | "metal" | false;
  /** A binding to use instead (for example a tuned native build). Defaults to opening one. */
  llama?: Llama | null;
  /** Threads when `knobs.threads` is empty. Defaults to the machine's recommended count. */
  default_threads?: number;
  /**
   * Roofline decode ceiling for `ceiling_tps` / `efficiency_pct`. Defaults to one from this
   * machine's memory bandwidth (probed once, then cached); null for none.
   */
  decode_ceiling?: DecodeCeiling | null;
  /** Cache directory for the default model. Defaults to the user cache dir (env-paths "tokbench"). */
  cache_dir?: string;
  /** The synthetic model run when `model` is null. Defaults to `DEFAULT_MODEL` (Qwen2.5-0.5B's shape, Q4_0). */
  default_model?: DefaultModelSpec;
  /**
   * Progress of the slow first-use steps: creating the default model (bytes) and probing the
   * memory bandwidth (rounds). The library prints nothing; this feeds a display. Defaults to none.
   */
  on_setup_progress?: (event: EmbeddedSetupProgress) => void;
  /**
   * Called once the model file is known and parsed and the setup is done, right before the engine
   * loads the model: what is about to be measured, for a header line. Defaults to none.
   */
  on_plan?: (plan: EmbeddedRunPlan) => void;
  machine: MachineInfo;
  /** Extra configuration to record; secrets in it are redacted (`redactSecrets`). Defaults to none. */
  config?: Record<string, unknown>;
  onRunStart?(run: RunStartInfo): void;
  /** Progress of the llama-bench tests. */
  on_test_progress?: (done: number, total: number, label: string) => void;
  hooks?: LoadHooks;
  stopResources?(): ResourceUsage | null;
  /** As in `BenchmarkInput.resourceTimeline`. */
  resourceTimeline?(): ResourcePoint[] | null;
  /** As in `BenchmarkInput.requestLog`. */
  requestLog?(runId: string): RequestLogWriter;
  signal?: AbortSignal;
}

/** A step of an embedded run's setup, for a progress display. */
export interface EmbeddedSetupProgress {
  /** `model`: synthesizing the default model (bytes); `bandwidth`: the memory probe (rounds). */
  phase: "model" | "bandwidth";
  done: number;
  total: number;
}

/** What an embedded run is about to measure. */
export interface EmbeddedRunPlan {
  model_path: string;
  /** True when no model was given and the default synthetic one runs. */
  model_default: boolean;
  /** True when the default model was synthesized by this run. */
  model_created: boolean;
  file_bytes: number;
  /** The model as tokbench's GGUF reader sees it (parameters, architecture, quantization mix...). */
  inspection: ModelInspection;
  /** The binding: backend, build type, llama.cpp release. */
  engine: { backend: string; build: string; llama_cpp_release: string };
  /** Knobs after defaults (threads, batch sizes...). */
  knobs: EngineKnobs;
}

function withDefaults(knobs: EngineKnobs, threads: number): EngineKnobs {
  const or = <T>(list: T[], fallback: T): T[] => (list.length > 0 ? list : [fallback]);
  return {
    threads: or(knobs.threads, threads),
    batch_size: or(knobs.batch_size, EMBEDDED_DEFAULTS.batch_size),
    ubatch_size: or(knobs.ubatch_size, EMBEDDED_DEFAULTS.ubatch_size),
    ctx_size: or(knobs.ctx_size, null),
    gpu_layers: or(knobs.gpu_layers, { layers: 0 }),
    flash_attn: or(knobs.flash_attn, false),
    type_k: or(knobs.type_k, "f16"),
    type_v: or(knobs.type_v, "f16"),
    parallel: or(knobs.parallel, 1),
  };
}

/**
 * Runs the embedded engine: llama-bench-style tests over the knob grid, then (when asked) the
 * request-shaped workload through the load generator on the first grid point, and returns one
 * {@link RunResult} whose `tests[]` holds the load-time rows (`test: "load"`) and the test rows.
 * Prints nothing.
 */
export async function runEmbeddedBench(options: EmbeddedBenchOptions): Promise<RunResult> {
  const observe = options.observe ?? null;
  if (observe !== null && options.requests !== null) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--experts and --layers observe llama-bench tests, not a request workload (--requests, --duration, --rate, --prompt-file)",
    );
  }
  if (observe !== null && options.plan === null) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--experts and --layers observe llama-bench tests: give --pp, --tg or --pg",
    );
  }
  const setup = options.on_setup_progress;
  let created = false;
  let modelPath = options.model;
  if (modelPath === null) {
    const ensured = await ensureDefaultModel({
      ...(options.cache_dir === undefined ? {} : { cacheDir: options.cache_dir }),
      ...(options.default_model === undefined ? {} : { spec: options.default_model }),
      ...(setup === undefined
        ? {}
        : { onProgress: (p) => setup({ phase: "model", done: p.written_bytes, total: p.total_bytes }) }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }).catch((error: unknown) => {
      throw options.signal?.aborted === true ? stoppedBeforeRun(options.signal) : error;
    });
    modelPath = ensured.path;
    created = ensured.created;
  }
  // The one parse of the file per run (tokbench's reader): rows, the header, the ceiling and the
  // trace all read this inspection.
  const file = await inspectModelFile(modelPath);
  const binding =
    options.llama != null
      ? EngineBinding.fromLlama(options.llama)
      : await EngineBinding.open({ gpu: options.gpu ?? "auto" });
  const threads = options.default_threads ?? (await defaultThreads(binding));
  const knobs = withDefaults(options.knobs, threads);
  const engine = binding.describe();
  // The roofline ceiling, before anything is measured: on a first run the bandwidth probe takes
  // seconds of both cores and 256 MiB a thread, which must not overlap the measured work.
  // An observation run has no speed rows and needs no ceiling.
  const machineCeiling =
    observe === null && options.decode_ceiling === undefined
      ? await machineDecodeCeiling(
          file.inspection,
          setup === undefined ? undefined : (done, total) => setup({ phase: "bandwidth", done, total }),
          options.signal,
        )
      : null;
  const ceiling =
    observe !== null
      ? null
      : options.decode_ceiling === undefined
        ? (machineCeiling?.ceiling ?? null)
        : options.decode_ceiling;
  // A stop during the setup (the default model's creation, the bandwidth probe) ends the run
  // before it starts: no model is loaded, nothing is stored.
  if (options.signal?.aborted === true) throw stoppedBeforeRun(options.signal);
  // Read through a function: a stop can come at any await below, whatever the check above narrowed.
  const stopped = (): boolean => options.signal?.aborted === true;
  const trace = options.trace == null ? null : TraceWriter.open(options.trace.path, options.trace.level);
  // The one redaction, before the trace, storage or output sees the configuration.
  const config: Record<string, unknown> = redactSecrets({
    ...options.config,
    target: "embedded",
    model: modelPath,
    model_default: options.model === null,
    engine,
    knobs,
    tests: options.plan,
    repetitions: options.repetitions ?? EMBEDDED_DEFAULTS.repetitions,
    trace: options.trace ?? null,
    // What eff % rests on; a figure probed on an overloaded machine is likely low (eff % high).
    ...(machineCeiling === null ? {} : { roofline_bandwidth: machineCeiling.bandwidth }),
    ...(observe === null
      ? {}
      : { observation: { ...observe.what, speed_figures: false, observer: observe.observer.path } }),
    // The request workload, as HTTP runs record it: what `runs`, `compare` and `regress` match on.
    ...(options.requests === null
      ? {}
      : { load: options.requests.load, workload: options.requests.workload }),
  });
  trace?.sessionStart({
    started_at: new Date().toISOString(),
    tool: { name: "tokbench", version: TOKBENCH_VERSION },
    model: { path: modelPath, ...file.info, ...modelFacts(file.inspection) },
    engine,
    config,
    ...(observe === null ? {} : { observation: observationFacts(observe) }),
    tensors: file.inspection.tensors.map((t) => ({ name: t.name, type: t.type, shape: [...t.shape] })),
  });
  // After the trace file is open and started: a trace that cannot be written fails before the
  // header line says what is about to be measured.
  options.on_plan?.({
    model_path: modelPath,
    model_default: options.model === null,
    model_created: created,
    file_bytes: file.file_bytes,
    inspection: file.inspection,
    engine,
    knobs,
  });
  let traceStatus: "completed" | "failed" | "interrupted" = "failed";
  try {
    const tests: (BenchRow | LoadRow)[] = [];
    let interrupted = false;
    let observation: {
      info: NonNullable<RunResult["observation"]>;
      expert_usage: RunResult["expert_usage"] | null;
      layer_timing: RunResult["layer_timing"] | null;
    } | null = null;
    if (observe !== null && options.plan !== null) {
      const observed = await runObservedTests({
        model_file: file,
        binding,
        observer: observe.observer,
        what: observe.what,
        knobs,
        plan: options.plan,
        repetitions: options.repetitions ?? EMBEDDED_DEFAULTS.repetitions,
        warmup: options.warmup ?? true,
        trace,
        on_progress: options.on_test_progress,
        signal: options.signal,
      });
      interrupted = observed.interrupted;
      observation = {
        info: {
          ...observed.observation,
          observer: {
            path: observe.observer.path,
            llama_cpp_release: observe.observer.builtFor.tag,
            llama_cpp_commit: observe.observer.builtFor.commit,
          },
        },
        expert_usage: observed.expert_usage,
        layer_timing: observed.layer_timing,
      };
    } else if (options.plan !== null) {
      const bench = await runLlamaBench({
        model_path: modelPath,
        model_file: file,
        binding,
        knobs,
        plan: options.plan,
        repetitions: options.repetitions ?? EMBEDDED_DEFAULTS.repetitions,
        warmup: options.warmup ?? true,
        trace,
        decode_ceiling: ceiling,
        on_progress: options.on_test_progress,
        signal: options.signal,
      });
      tests.push(...bench.loads, ...bench.rows);
      interrupted = bench.interrupted;
    }

    let result: RunResult;
    // A stop during the tests loads no model for the requests.
    if (options.requests !== null && !interrupted && !stopped()) {
      result = await runRequests(options, binding, file, knobs, trace, config, ceiling);
    } else {
      const runId = randomUUID();
      const startedAt = new Date().toISOString();
      options.onRunStart?.({ run_id: runId, started_at: startedAt, config, machine: options.machine });
      result = {
        schema_version: RESULT_SCHEMA_VERSION,
        tool: { name: "tokbench", version: TOKBENCH_VERSION },
        run_id: runId,
        status: interrupted || stopped() ? "interrupted" : "completed",
        status_reason: interrupted || stopped() ? interruptReason(options.signal) : null,
        started_at: startedAt,
        ended_at: new Date().toISOString(),
        config,
        machine: options.machine,
        summary: new RunSummarizer().summary(),
        requests: new RequestTable(),
        tests: [],
        resources: options.stopResources?.() ?? null,
        distributions: null,
        resource_timeline: options.resourceTimeline?.() ?? null,
      };
    }
    result.tests = [...tests.map((row) => ({ ...row }) as Record<string, unknown>), ...result.tests];
    if (observation !== null) {
      result.observation = observation.info;
      if (observation.expert_usage != null) result.expert_usage = observation.expert_usage;
      if (observation.layer_timing != null) result.layer_timing = observation.layer_timing;
    }
    traceStatus =
      result.status === "completed"
        ? "completed"
        : result.status === "interrupted"
          ? "interrupted"
          : "failed";
    return result;
  } finally {
    trace?.sessionEnd(traceStatus);
  }
}

/**
 * A run stopped before it started (`RUN_INTERRUPTED`): the stop's own reason ("stopped by
 * SIGTERM") and what that means, with the stop's context (the signal) kept for the exit code.
 */
function stoppedBeforeRun(signal: AbortSignal): TokbenchError {
  const reason: unknown = signal.reason;
  return new TokbenchError(
    "RUN_INTERRUPTED",
    `${interruptReason(signal)} before the run started: nothing was measured`,
    {
      cause: reason,
      ...(isTokbenchError(reason) ? { context: reason.context } : {}),
    },
  );
}

/** The bandwidth behind a run's roofline ceiling, as the run's configuration records it. */
export interface RooflineBandwidth {
  bytes_per_second: number;
  /** `cached`: an earlier probe's figure; `probed`: measured by this run. */
  source: "cached" | "probed";
  /** The load average while probing, when it exceeded the CPUs (the figure is likely low); else null. */
  load_average_over_cpus: { load_average: number; cpus: number } | null;
}

/**
 * The roofline ceiling from the cached bandwidth probe and the model's bytes per token as `inspect`
 * counts them, and the bandwidth it rests on; null when the probe fails.
 */
async function machineDecodeCeiling(
  inspection: ModelInspection,
  onProbeProgress: ((done: number, total: number) => void) | undefined,
  signal: AbortSignal | undefined,
): Promise<{ ceiling: DecodeCeiling; bandwidth: RooflineBandwidth } | null> {
  try {
    const [{ getMemoryBandwidth }, { lastLevelCacheBytes }] = await Promise.all([
      import("../roofline/getMemoryBandwidth.js"),
      import("../roofline/lastLevelCacheBytes.js"),
    ]);
    // The first run on a machine probes the bandwidth (seconds, one thread per core): a stop
    // signal ends the probe too.
    const bandwidth = await getMemoryBandwidth({
      ...(signal === undefined ? {} : { signal }),
      ...(onProbeProgress === undefined ? {} : { onProgress: onProbeProgress }),
    });
    return {
      ceiling: engineDecodeCeiling(inspection, bandwidth.bytes_per_second, lastLevelCacheBytes()),
      bandwidth: {
        bytes_per_second: bandwidth.bytes_per_second,
        source: bandwidth.cached ? "cached" : "probed",
        load_average_over_cpus: bandwidth.under_load ?? null,
      },
    };
  } catch {
    return null;
  }
}

/** Model facts a trace starts with beyond the engine's: quantization mix and experts. */
function modelFacts(inspection: ModelInspection): Record<string, unknown> {
  const hp = inspection.hyperparameters;
  return {
    quantization_mix: inspection.quantization_mix.map((q) => ({
      type: q.type,
      tensors: q.tensors,
      bytes: q.bytes,
      bytes_fraction: Math.round(q.bytes_fraction * 10000) / 10000,
    })),
    n_expert: hp.expert_count ?? 0,
    n_expert_used: hp.expert_used_count ?? 0,
  };
}

/** What an observation run's trace says about the observer. */
function observationFacts(observe: { observer: GraphObserver; what: ObserveWhat }): Record<string, unknown> {
  return {
    ...observe.what,
    speed_figures: false,
    observer: observe.observer.path,
    llama_cpp_release: observe.observer.builtFor.tag,
    llama_cpp_commit: observe.observer.builtFor.commit,
  };
}

async function defaultThreads(binding: EngineBinding): Promise<number> {
  try {
    const { recommendedThreads } = await import("../engine/native/recommendedThreads.js");
    const build = binding.llama.buildType === "localBuild" ? "native" : "prebuilt";
    return recommendedThreads({ mathCores: binding.llama.cpuMathCores, build });
  } catch {
    return Math.max(1, binding.llama.cpuMathCores);
  }
}

async function runRequests(
  options: EmbeddedBenchOptions,
  binding: EngineBinding,
  file: InspectedModelFile,
  knobs: EngineKnobs,
  trace: TraceWriter | null,
  config: Record<string, unknown>,
  ceiling: DecodeCeiling | null,
): Promise<RunResult> {
  const requests = options.requests as NonNullable<EmbeddedBenchOptions["requests"]>;
  const { load, workload } = requests;
  const first = (list: readonly unknown[]) => list[0];
  // One sequence per request in flight: --parallel when given, else the concurrency.
  const parallel =
    options.knobs.parallel.length > 0
      ? (first(knobs.parallel) as number)
      : Number.isFinite(load.concurrency)
        ? Math.max(1, Math.min(64, load.concurrency))
        : 1;
  const perSequence =
    (first(knobs.ctx_size) as number | null) ??
    (workload.prompt_file === null
      ? Math.ceil((workload.prompt_tokens + workload.max_tokens + 64) / 256) * 256
      : Math.min(Math.max(file.info.n_ctx_train, 512), 8192));
  const gpuLayers = resolveGpuLayers(knobs.gpu_layers[0] ?? { layers: 0 }, file.info.n_layer + 1);
  const loaded = await loadEngineModel(binding, file, { gpuLayers });
  const requestPoint: EngineGridPoint = {
    threads: first(knobs.threads) as number,
    batch_size: first(knobs.batch_size) as number,
    ubatch_size: first(knobs.ubatch_size) as number,
    ctx_size: perSequence,
    gpu_layers: knobs.gpu_layers[0] ?? { layers: 0 },
    flash_attn: first(knobs.flash_attn) as boolean | "auto",
    type_k: knobs.type_k[0] ?? "f16",
    type_v: knobs.type_v[0] ?? "f16",
    parallel,
  };
  let target: EmbeddedTarget | null = null;
  try {
    target = await EmbeddedTarget.create({
      binding,
      model: loaded.model,
      trace,
      context: {
        threads: requestPoint.threads,
        batch_size: requestPoint.batch_size,
        ubatch_size: requestPoint.ubatch_size,
        ctx_size: perSequence,
        flash_attn: requestPoint.flash_attn,
        type_k: requestPoint.type_k,
        type_v: requestPoint.type_v,
        parallel,
      },
    });
    return await runBenchmark({
      target,
      workload,
      load,
      machine: options.machine,
      config: {
        ...config,
        request_context: { parallel, ctx_size: perSequence, n_gpu_layers: loaded.gpu_layers },
      },
      // One stream's ceiling with an empty cache: no request can decode faster than that.
      decode_ceiling_tps:
        parallel === 1 && ceiling !== null ? ceiling(file.info, { ...requestPoint, n_depth: 0 }) : null,
      ...(options.onRunStart === undefined ? {} : { onRunStart: options.onRunStart }),
      ...(options.stopResources === undefined ? {} : { stopResources: options.stopResources }),
      ...(options.hooks === undefined ? {} : { hooks: options.hooks }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.resourceTimeline === undefined ? {} : { resourceTimeline: options.resourceTimeline }),
      ...(options.requestLog === undefined ? {} : { requestLog: options.requestLog }),
    });
  } finally {
    await target?.close();
    await loaded.model.dispose();
  }
}
