import { freemem } from "node:os";
import type { LlamaContext, Token } from "node-llama-cpp";
import { TokbenchError } from "../../errors/TokbenchError.js";
import type { ModelInspection } from "../../gguf/inspectModel.js";
import type { ExpertUsage, LayerTiming, ObservationInfo } from "../../results/Observation.js";
import type { StepPart } from "../../trace/TraceEvent.js";
import type { TraceGraphTensor, TraceSpan, TraceStepRef, TraceWriter } from "../../trace/TraceWriter.js";
import { createEngineContext, effectiveBatchSize } from "../createEngineContext.js";
import { DirectDecoder } from "../DirectDecoder.js";
import type { EngineBinding } from "../EngineBinding.js";
import {
  type BenchTest,
  type BenchTestPlan,
  benchTestName,
  type EngineKnobs,
  expandGrid,
  expandTests,
  resolveGpuLayers,
  resolveRepetitions,
} from "../EngineGrid.js";
import type { EngineModelInfo } from "../EngineModelInfo.js";
import { type InspectedModelFile, type LoadedEngineModel, loadEngineModel } from "../loadEngineModel.js";
import { makeTokenSource, planPoint, settingsOf } from "../runLlamaBench.js";
import { ExpertUsageCounter, type MoeShape } from "./ExpertUsageCounter.js";
import {
  type ArmMode,
  type GraphObserver,
  type ObservedDecode,
  type ObservedTensor,
  type ObserveWhat,
  REGION_INPUT,
  REGION_OUTPUT,
} from "./GraphObserver.js";
import { LayerTimingCollector } from "./LayerTimingCollector.js";

/** Options of {@link runObservedTests}. */
export interface ObservedTestsOptions {
  /** The GGUF file as `inspectModelFile` parsed it (expert counts, router layers), parsed once a run. */
  model_file: InspectedModelFile;
  /** A binding opened after `observer` was loaded. */
  binding: EngineBinding;
  observer: GraphObserver;
  what: ObserveWhat;
  /** Knob lists with exactly one value each: the one configuration observed. */
  knobs: EngineKnobs;
  plan: BenchTestPlan;
  /** Observed generations per test, each paired with an unobserved reference. Defaults to 5. */
  repetitions?: number;
  /** One untimed, unobserved warmup generation per test first, as llama-bench. Defaults to true. */
  warmup?: boolean;
  /** Seed of the pseudo-random tokens. Defaults to 42. */
  seed?: number;
  /** Trace for generations, steps, layers and graph tensors; null for none. Defaults to null. */
  trace?: TraceWriter | null;
  /** Available memory, for the fit check. Defaults to `os.freemem()`. */
  available_memory_bytes?: number;
  /** Called after each test. */
  on_progress?: (done: number, total: number, label: string) => void;
  /** Stops after the current generation. */
  signal?: AbortSignal;
}

/** What {@link runObservedTests} found. */
export interface ObservedTestsResult {
  model: EngineModelInfo;
  observation: Omit<ObservationInfo, "observer">;
  /** Null unless experts were asked for and the model has routers. */
  expert_usage: ExpertUsage | null;
  /** Null unless layers were asked for. */
  layer_timing: LayerTiming[] | null;
  interrupted: boolean;
}

/** One step of a generation: a prompt batch or a single generated token. */
interface PlannedStep {
  phase: "prefill" | "decode";
  index: number;
  tokens: Token[];
  logits: boolean;
}

/**
 * Runs the llama-bench tests of `plan` on one configuration with the graph observer: per test a
 * warmup, then `repetitions` times an unobserved reference generation and the same generation
 * observed (same tokens, same context, the order alternating between repetitions), so that what
 * observing costs is measured on the same steps in the same conditions. Tests feed pseudo-random tokens and sample nothing, as
 * llama-bench does: `ppN` is N prompt tokens in batches of the context's batch size, `tgN` N
 * single-token decodes, `ppN+tgM` both. Returns routing counts and per-layer times; never speed rows.
 */
export async function runObservedTests(options: ObservedTestsOptions): Promise<ObservedTestsResult> {
  const repetitions = resolveRepetitions(options.repetitions);
  const tests = expandTests(options.plan);
  if (tests.length === 0) {
    throw new TokbenchError("INVALID_ARGUMENT", "no test to observe: give --pp, --tg or --pg");
  }
  const grid = expandGrid(options.knobs);
  const point = grid[0];
  if (grid.length !== 1 || point === undefined) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--experts and --layers observe one configuration; the knobs give ${grid.length}: pass one value per knob`,
    );
  }
  if (point.parallel !== 1) {
    throw new TokbenchError("INVALID_ARGUMENT", "--experts and --layers observe one sequence: --parallel 1");
  }
  const file = options.model_file;
  const planned = planPoint(file, point, tests, options.available_memory_bytes ?? freemem());
  if (planned.rejected !== null) {
    throw new TokbenchError(
      /memory/.test(planned.rejected) ? "ENGINE_OUT_OF_MEMORY" : "INVALID_ARGUMENT",
      planned.rejected,
      {
        context: { path: file.path },
      },
    );
  }
  const moe = moeShape(file.inspection, file.info.n_layer);
  options.observer.assertMatches(options.binding.llama);
  options.observer.configure(options.what, {
    n_layer: file.info.n_layer,
    n_expert: moe?.n_expert ?? 0,
    n_expert_used: moe?.n_expert_used ?? 0,
  });
  const experts = options.what.experts && moe !== null ? new ExpertUsageCounter(moe) : null;
  const timing = new LayerTimingCollector(file.info.n_layer);
  const warnings: string[] = [];
  if (options.what.experts && moe === null)
    warnings.push("--experts: the model has no expert routers (dense model)");

  const settings = settingsOf(planned);
  const chunk = effectiveBatchSize(settings);
  let loaded: LoadedEngineModel | null = null;
  let context: LlamaContext | null = null;
  let decoder: DirectDecoder | null = null;
  let interrupted = false;
  try {
    loaded = await loadEngineModel(options.binding, file, {
      gpuLayers: resolveGpuLayers(point.gpu_layers, file.info.n_layer + 1),
    });
    context = await createEngineContext(options.binding, loaded.model, settings);
    decoder = DirectDecoder.open(context, loaded.model, point.threads);
    if (decoder === null) {
      throw new TokbenchError(
        "ENGINE_UNAVAILABLE",
        "observation needs node-llama-cpp's native decode calls (DirectDecoder), which this version lacks",
      );
    }
    const run: GenerationRunner = {
      decoder,
      observer: options.observer,
      trace: options.trace ?? null,
      threads: point.threads,
      settings: { ...traceSettingsOf(point, chunk, loaded.gpu_layers), observation: options.what },
    };
    let done = 0;
    for (const test of tests) {
      const name = benchTestName(test).replace(/ /g, "");
      const tokens = makeTokenSource((options.seed ?? 42) + done, file.info.n_vocab);
      if (options.warmup ?? true) {
        const warm = test.n_prompt > 0 ? Math.min(test.n_prompt, chunk) : 1;
        const warmSteps = planSteps({ n_prompt: warm, n_gen: 1, n_depth: 0 }, tokens, chunk);
        await resetCache(decoder, [], chunk);
        await generate(run, warmSteps, "off", null);
        // The observer lays out a graph on first sight; keep that out of the observed repetitions.
        await resetCache(decoder, [], chunk);
        await generate(run, warmSteps, "observe", null);
      }
      for (let rep = 0; rep < repetitions; rep++) {
        if (options.signal?.aborted === true) {
          interrupted = true;
          break;
        }
        const depth = test.n_depth > 0 ? tokens(test.n_depth) : [];
        const steps = planSteps(test, tokens, chunk);
        // The same steps unobserved (only timed) and observed, in alternating order: whichever runs
        // second finds the weights its tokens route to already in the caches (and, for a model
        // larger than free memory, in the page cache), which would otherwise bias the comparison.
        const observedFirst = rep % 2 === 1;
        const runReference = async () => {
          await resetCache(decoder as DirectDecoder, depth, chunk);
          return generate(run, steps, "time", { id: `${name}/t${point.threads}/ref/r${rep}`, test });
        };
        const reference = observedFirst ? null : await runReference();
        await resetCache(decoder, depth, chunk);
        await options.binding.readPerf(context); // resets llama.cpp's counters
        const observed = await generate(run, steps, "observe", {
          id: `${name}/t${point.threads}/obs/r${rep}`,
          test,
        });
        const perf = await options.binding.readPerf(context);
        const unobserved = reference ?? (await runReference());
        observed.forEach((s, i) => {
          const d = s.decode as ObservedDecode;
          const r = unobserved[i] as StepResult;
          timing.addPair(
            name,
            s.phase,
            { ms: s.ms, decode: d },
            { ms: r.ms, decode_ms: r.decode?.decode_ms ?? null, cpu_ms: r.decode?.cpu_ms ?? null },
            observedFirst,
          );
          experts?.add(d, s.phase);
          if (d.status !== 0) warnings.push(`${name}: an observed llama_decode returned ${d.status}`);
        });
        if (perf !== null) {
          const prefill = observed.filter((o) => o.phase === "prefill").length;
          // llama.cpp books multi-token calls as prompt eval and single-token calls as eval.
          if (prefill > 0) timing.addEngineCounter(name, "prefill", perf.prompt_ms, prefill);
          if (observed.length > prefill) {
            timing.addEngineCounter(name, "decode", perf.eval_ms, observed.length - prefill);
          }
        }
      }
      options.on_progress?.(++done, tests.length, name);
      if (interrupted) break;
    }
  } finally {
    options.observer.arm("off");
    decoder?.dispose();
    await context?.dispose().catch(() => undefined);
    await loaded?.model.dispose().catch(() => undefined);
  }

  const usage = experts?.summary() ?? null;
  if (usage !== null) warnings.push(...checkExpertUsage(usage, moe as MoeShape, experts?.unreadable ?? 0));
  const layerTiming = timing.summary();
  const kinds: ObservationInfo["kinds"] = [];
  if (options.what.experts) kinds.push("experts");
  if (options.what.layers) kinds.push("layers");
  if (options.what.tensors) kinds.push("tensors");
  return {
    model: loaded?.info ?? file.info,
    observation: {
      kinds,
      speed_figures: false,
      settings: traceSettingsOf(point, chunk, loaded?.gpu_layers ?? 0),
      repetitions,
      overhead: layerTiming.map((t) => ({
        test: t.test,
        phase: t.phase,
        steps: t.steps,
        observed_decode_ms_mean: t.decode_ms_mean,
        unobserved_decode_ms_mean: t.unobserved_decode_ms_mean,
        observed_step_ms_mean: t.step_ms_mean,
        unobserved_step_ms_mean: t.unobserved_step_ms_mean,
        overhead_pct: t.overhead_pct,
        observed_cpu_ms_mean: t.cpu_ms_mean,
        unobserved_cpu_ms_mean: t.unobserved_cpu_ms_mean,
        overhead_cpu_pct: t.overhead_cpu_pct,
      })),
      warnings,
    },
    expert_usage: usage,
    layer_timing: options.what.layers ? layerTiming : null,
    interrupted,
  };
}

/** Router facts from the GGUF: null for a dense model. */
export function moeShape(inspection: ModelInspection, nLayer: number): MoeShape | null {
  const nExpert = inspection.hyperparameters.expert_count ?? 0;
  const nUsed = inspection.hyperparameters.expert_used_count ?? 0;
  const routers = new Set<number>();
  for (const t of inspection.tensors) {
    if (t.layer !== null && /^blk\.\d+\.ffn_gate_inp\.weight$/.test(t.name)) routers.add(t.layer);
  }
  if (nExpert < 1 || nUsed < 1 || routers.size === 0) return null;
  return {
    n_layer: nLayer,
    n_expert: nExpert,
    n_expert_used: nUsed,
    moe_layers: [...routers].sort((a, b) => a - b),
  };
}

/**
 * The invariants of routing counts: every layer's selections are its routed tokens × n_expert_used,
 * the layers with counts are the model's router layers, and every id was in range.
 */
export function checkExpertUsage(usage: ExpertUsage, moe: MoeShape, unreadable: number): string[] {
  const problems: string[] = [];
  if (unreadable > 0) problems.push(`${unreadable} router outputs could not be counted`);
  for (const l of usage.layers) {
    if (l.selections !== l.tokens * usage.n_expert_used) {
      problems.push(
        `layer ${l.layer}: ${l.selections} selections for ${l.tokens} tokens x ${usage.n_expert_used} experts`,
      );
    }
  }
  const counted = usage.layers.map((l) => l.layer).join(",");
  if (counted !== moe.moe_layers.join(",")) {
    problems.push(
      `layers with counts (${counted}) differ from the model's router layers (${moe.moe_layers.join(",")})`,
    );
  }
  return problems;
}

interface GenerationRunner {
  decoder: DirectDecoder;
  observer: GraphObserver;
  trace: TraceWriter | null;
  threads: number;
  settings: Record<string, unknown>;
}

interface StepResult {
  phase: "prefill" | "decode";
  /** JavaScript time around the decode call. */
  ms: number;
  /** The observer's record of the call (null when not armed). */
  decode: ObservedDecode | null;
}

/** The decode calls of a test: prompt batches (the last computing logits) then single tokens. */
function planSteps(
  test: Pick<BenchTest, "n_prompt" | "n_gen" | "n_depth">,
  tokens: (n: number) => Token[],
  chunk: number,
): PlannedStep[] {
  const steps: PlannedStep[] = [];
  const prompt = tokens(test.n_prompt);
  for (let i = 0, index = 0; i < prompt.length; i += chunk, index++) {
    const part = prompt.slice(i, i + chunk);
    steps.push({ phase: "prefill", index, tokens: part, logits: i + part.length === prompt.length });
  }
  for (let k = 0; k < test.n_gen; k++)
    steps.push({ phase: "decode", index: k, tokens: tokens(1), logits: true });
  return steps;
}

/** Empties the KV cache and fills `depth` cells (llama-bench's depth), unobserved and untimed. */
async function resetCache(decoder: DirectDecoder, depth: readonly Token[], chunk: number): Promise<void> {
  decoder.clear();
  for (let i = 0; i < depth.length; i += chunk) await decoder.decode(depth.slice(i, i + chunk), false);
}

/**
 * One generation from where the cache is. Armed (`time` or `observe`), each decode's record is taken
 * after the step's JavaScript clock stops. `label` null: a warmup, not traced.
 */
async function generate(
  run: GenerationRunner,
  steps: readonly PlannedStep[],
  mode: ArmMode,
  label: { id: string; test: BenchTest } | null,
): Promise<StepResult[]> {
  const { decoder, observer, trace } = run;
  const promptTokens = steps.filter((s) => s.phase === "prefill").reduce((a, s) => a + s.tokens.length, 0);
  const start = performance.now();
  if (label !== null) {
    trace?.generationStart(
      {
        id: label.id,
        sequence: 0,
        prompt_tokens: promptTokens,
        max_tokens: label.test.n_gen,
        n_depth: label.test.n_depth,
        settings: { test: benchTestName(label.test), ...run.settings },
        observed: mode === "observe",
      },
      start,
    );
  }
  const results: StepResult[] = [];
  let prefillEnd: number | null = null;
  observer.arm(mode);
  try {
    for (const step of steps) {
      const t0 = performance.now();
      await decoder.decode(step.tokens, step.logits);
      const t1 = performance.now();
      let decode: ObservedDecode | null = null;
      if (mode !== "off") {
        const taken = observer.take();
        if (taken.length !== 1) {
          throw new TokbenchError(
            "OBSERVER_NOT_ATTACHED",
            `expected one armed llama_decode per step, got ${taken.length}`,
            {
              context: {
                decodes_seen: observer.status().decodes_seen,
                busy_skipped: observer.status().busy_skipped,
              },
            },
          );
        }
        decode = taken[0] as ObservedDecode;
      }
      results.push({ phase: step.phase, ms: t1 - t0, decode });
      if (step.phase === "prefill") prefillEnd = t1;
      if (label !== null && trace !== null) {
        const ref: TraceStepRef = { kind: step.phase, index: step.index, t_end_ms: t1 };
        // In time order: the spans end inside the decode call, the step when the call returned.
        if (decode?.spans != null) trace.layers(label.id, ref, decode.spans.map(toTraceSpan));
        trace.step(label.id, {
          kind: step.phase,
          index: step.index,
          tokens: step.tokens.length,
          t_start_ms: t0,
          t_end_ms: t1,
          token: null,
        });
        if (decode?.tensors != null && trace.recordsGraphTensors) {
          trace.graphTensors(label.id, ref, decode.tensors.map(toTraceTensor));
        }
      }
    }
  } finally {
    observer.arm("off");
  }
  if (label !== null && trace !== null) {
    const end = performance.now();
    const decodeSteps = results.filter((r) => r.phase === "decode").length;
    trace.generationEnd(
      {
        id: label.id,
        prompt_tokens: promptTokens,
        output_tokens: decodeSteps,
        prefill_batches: results.length - decodeSteps,
        ttft_ms: prefillEnd === null ? null : prefillEnd - start,
        decode_ms:
          decodeSteps > 0 ? results.reduce((a, r) => a + (r.phase === "decode" ? r.ms : 0), 0) : null,
        total_ms: end - start,
        engine: null,
        error: null,
      },
      end,
    );
  }
  return results;
}

function partOf(region: number): { part: StepPart; layer: number | null } {
  if (region === REGION_INPUT) return { part: "input", layer: null };
  if (region === REGION_OUTPUT) return { part: "output", layer: null };
  return { part: "layer", layer: region };
}

function toTraceSpan(span: { region: number; t_start_ms: number; t_end_ms: number }): TraceSpan {
  return { ...partOf(span.region), t_start_ms: span.t_start_ms, t_end_ms: span.t_end_ms };
}

function toTraceTensor(t: ObservedTensor): TraceGraphTensor {
  return {
    ...partOf(t.layer),
    name: t.name,
    op: t.op,
    type: t.type,
    ne: t.ne,
    bytes: t.nbytes,
    inputs: t.src,
  };
}

function traceSettingsOf(
  point: {
    threads: number;
    batch_size: number;
    flash_attn: boolean | "auto";
    type_k: string;
    type_v: string;
  },
  chunk: number,
  gpuLayers: number,
): Record<string, unknown> {
  return {
    n_threads: point.threads,
    n_batch: point.batch_size,
    n_ubatch: chunk,
    n_gpu_layers: gpuLayers,
    type_k: point.type_k,
    type_v: point.type_v,
    flash_attn: point.flash_attn,
  };
}
