import { freemem } from "node:os";
import type { LlamaContext, LlamaContextSequence, LlamaModel, Token } from "node-llama-cpp";
import { isTokbenchError, TokbenchError } from "../errors/TokbenchError.js";
import { MIN_DECODE_STEPS } from "../metrics/decodeStepRate.js";
import { formatBytes } from "../output/units.js";
import { mean, quantile as quantileOf, sampleStddev as stddev } from "../stats/descriptive.js";
import type { TraceWriter } from "../trace/TraceWriter.js";
import { seededRandom } from "../workload/seededRandom.js";
import { type BenchRow, ENGINE_MISMATCH_TOLERANCE, type LoadRow } from "./BenchRow.js";
import {
  createEngineContext,
  type EngineContextSettings,
  effectiveBatchSize,
} from "./createEngineContext.js";
import { DirectDecoder } from "./DirectDecoder.js";
import { type EngineBinding, firstLine } from "./EngineBinding.js";
import {
  type BenchTest,
  type BenchTestPlan,
  benchTestName,
  type EngineGridPoint,
  type EngineKnobs,
  expandGrid,
  expandTests,
  resolveGpuLayers,
  resolveRepetitions,
  testContextTokens,
} from "./EngineGrid.js";
import type { EngineModelInfo } from "./EngineModelInfo.js";
import { estimateEngineMemory } from "./estimateEngineMemory.js";
import { type GenerateOptions, type GenerationResult, generateOnSequence } from "./generateOnSequence.js";
import {
  type InspectedModelFile,
  inspectModelFile,
  type LoadedEngineModel,
  loadEngineModel,
} from "./loadEngineModel.js";
import type { EnginePerf } from "./parseEnginePerf.js";

/** Decode ceiling (tokens/s of one stream) for a model and grid point; null when unknown. */
export type DecodeCeiling = (
  model: EngineModelInfo,
  point: EngineGridPoint & { n_depth: number },
) => number | null;

/** Options of {@link runLlamaBench}. */
export interface LlamaBenchOptions {
  /** GGUF file to benchmark. */
  model_path: string;
  /** The file already checked and parsed by {@link inspectModelFile}; parsed here when absent. */
  model_file?: InspectedModelFile;
  binding: EngineBinding;
  knobs: EngineKnobs;
  plan: BenchTestPlan;
  /** Timed repetitions of every test. Defaults to 5 (llama-bench's default). */
  repetitions?: number;
  /** Run each test once untimed first, as llama-bench does. Defaults to true. */
  warmup?: boolean;
  /** Measure cold and warm model load times (loads the model twice per GPU-layer setting). Defaults to true. */
  measure_load?: boolean;
  /** Seed of the pseudo-random prompt tokens. Defaults to 42. */
  seed?: number;
  /** Per-step trace; null for none. Defaults to null. */
  trace?: TraceWriter | null;
  /** Roofline decode ceiling, for `ceiling_tps` / `efficiency_pct`. Defaults to none. */
  decode_ceiling?: DecodeCeiling | null;
  /** Available memory in bytes, for the up-front fit check. Defaults to `os.freemem()`. */
  available_memory_bytes?: number;
  /** Called after every test (done counts tests finished or failed). Defaults to none. */
  on_progress?: (done: number, total: number, label: string) => void;
  /**
   * Feed single-sequence tests through {@link DirectDecoder} (one native decode and one greedy
   * sample per token) instead of node-llama-cpp's sequence API, whose per-call bookkeeping costs
   * 1-3 ms a token. Falls back to the sequence API when the installed node-llama-cpp lacks the
   * native calls. Defaults to true.
   */
  direct_decode?: boolean;
  /** Stops after the current test. */
  signal?: AbortSignal;
}

/** What {@link runLlamaBench} produced. */
export interface LlamaBenchResult {
  model: EngineModelInfo;
  rows: BenchRow[];
  loads: LoadRow[];
  /** True when the signal stopped the run early. */
  interrupted: boolean;
}

/** A point whose configuration was checked, with its resolved context size. */
export interface PlannedPoint {
  point: EngineGridPoint;
  ctx_size: number;
  /** Why it is rejected before running, if it is. */
  rejected: string | null;
}

/** Deterministic pseudo-random token ids, as llama-bench feeds random tokens. */
export function makeTokenSource(seed: number, vocab: number): (n: number) => Token[] {
  const next = seededRandom(seed);
  const span = Math.max(1, vocab - 1);
  return (n) => Array.from({ length: n }, () => (1 + Math.floor(next() * span)) as Token);
}

/**
 * Runs llama-bench-style tests over the cartesian product of the knobs, in-process. Every grid point
 * gets a fresh context; GPU-layer settings share a loaded model. A point that does not fit in memory
 * is rejected before it runs; a point or test that fails is recorded as `failed` and the grid goes
 * on. Throws only when nothing can run: a missing or unreadable model (FILE_NOT_FOUND,
 * ENGINE_LOAD_FAILED) or a grid where no point fits (ENGINE_OUT_OF_MEMORY).
 */
export async function runLlamaBench(options: LlamaBenchOptions): Promise<LlamaBenchResult> {
  const repetitions = resolveRepetitions(options.repetitions);
  const tests = expandTests(options.plan);
  const grid = expandGrid(options.knobs);
  if (tests.length === 0)
    throw new TokbenchError("INVALID_ARGUMENT", "no test to run: give --pp, --tg or --pg");
  if (grid.length === 0) throw new TokbenchError("INVALID_ARGUMENT", "the knob grid is empty");

  const file = options.model_file ?? (await inspectModelFile(options.model_path));
  const available = options.available_memory_bytes ?? freemem();
  const planned = grid.map((point) => planPoint(file, point, tests, available));
  const pointIndex = new Map(planned.map((p, i) => [p, i]));
  if (planned.every((p) => p.rejected !== null)) {
    throw new TokbenchError(
      "ENGINE_OUT_OF_MEMORY",
      `no configuration fits in memory: ${planned[0]?.rejected ?? ""}`,
      {
        context: { path: file.path },
      },
    );
  }

  const total = grid.length * tests.length;
  let done = 0;
  const rows: BenchRow[] = [];
  const loads: LoadRow[] = [];
  const backend = options.binding.describe().backend;
  let modelInfo = file.info;
  let interrupted = false;
  const totalLayers = file.info.n_layer + 1;

  // Group points by resolved GPU layers so each setting loads the model once.
  const groups = new Map<number, PlannedPoint[]>();
  for (const p of planned) {
    const layers = resolveGpuLayers(p.point.gpu_layers, totalLayers);
    groups.set(layers, [...(groups.get(layers) ?? []), p]);
  }

  for (const [gpuLayers, points] of groups) {
    if (options.signal?.aborted === true) break;
    let loaded: LoadedEngineModel | null = null;
    const loadRow: LoadRow = {
      test: "load",
      model_filename: file.info.model_filename,
      n_gpu_layers: gpuLayers,
      load_cold_ms: null,
      load_warm_ms: null,
      status: "ok",
      error: null,
    };
    try {
      loaded = await loadEngineModel(options.binding, file, { gpuLayers });
      loadRow.load_cold_ms = loaded.load_ms;
      if (options.measure_load ?? true) {
        await loaded.model.dispose();
        loaded = await loadEngineModel(options.binding, file, { gpuLayers });
        loadRow.load_warm_ms = loaded.load_ms;
      }
      loadRow.n_gpu_layers = loaded.gpu_layers;
      modelInfo = loaded.info;
    } catch (error) {
      // The very first load failing means the model itself is unusable: nothing can run.
      if (rows.length === 0 && loads.length === 0 && gpuLayers === 0) throw error;
      loadRow.status = "failed";
      loadRow.error = firstLine(error);
    }
    loads.push(loadRow);

    for (const planned of points) {
      const base = (test: BenchTest): BenchRow =>
        baseRow(modelInfo, backend, planned, test, loaded?.gpu_layers ?? gpuLayers);
      if (loaded === null || planned.rejected !== null) {
        for (const test of tests) {
          rows.push({ ...base(test), status: "failed", error: planned.rejected ?? loadRow.error });
          options.on_progress?.(++done, total, benchTestName(test));
        }
        continue;
      }
      let context: LlamaContext | null = null;
      for (const test of tests) {
        const row = base(test);
        if (isAborted(options.signal)) {
          interrupted = true;
          break;
        }
        try {
          context ??= await createEngineContext(options.binding, loaded.model, settingsOf(planned));
          row.n_ctx = context.contextSize;
          await runTest(row, test, context, {
            binding: options.binding,
            repetitions,
            warmup: options.warmup ?? true,
            tokens: makeTokenSource((options.seed ?? 42) + rows.length, modelInfo.n_vocab),
            chunk: effectiveBatchSize(settingsOf(planned)),
            parallel: planned.point.parallel,
            direct:
              options.direct_decode !== false && planned.point.parallel === 1
                ? { model: loaded.model, threads: planned.point.threads }
                : null,
            trace: options.trace ?? null,
            // Trace ids are unique per session: with several grid points, each names its point.
            trace_point: grid.length > 1 ? `/p${pointIndex.get(planned)}` : "",
            signal: options.signal,
          });
          applyCeiling(row, modelInfo, planned.point, test, options.decode_ceiling ?? null);
        } catch (error) {
          row.status = "failed";
          row.error = isTokbenchError(error) ? error.message : `test failed: ${firstLine(error)}`;
          // The context may be in any state after a failure: start the next test on a fresh one.
          await context?.dispose().catch(() => undefined);
          context = null;
        }
        rows.push(row);
        options.on_progress?.(++done, total, benchTestName(test));
      }
      await context?.dispose().catch(() => undefined);
      if (interrupted) break;
    }
    await loaded?.model.dispose().catch(() => undefined);
    if (interrupted) break;
  }
  return { model: modelInfo, rows, loads, interrupted: interrupted || options.signal?.aborted === true };
}

/** Read through a function so TypeScript does not narrow `aborted` across awaits. */
function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

export function settingsOf(planned: PlannedPoint): EngineContextSettings {
  const p = planned.point;
  return {
    threads: p.threads,
    batch_size: p.batch_size,
    ubatch_size: p.ubatch_size,
    ctx_size: planned.ctx_size,
    flash_attn: p.flash_attn,
    type_k: p.type_k,
    type_v: p.type_v,
    parallel: p.parallel,
  };
}

/** Sizes the context and checks the point against memory and llama.cpp's known constraints. */
export function planPoint(
  file: InspectedModelFile,
  point: EngineGridPoint,
  tests: readonly BenchTest[],
  available: number,
): PlannedPoint {
  const needed = Math.max(...tests.map(testContextTokens));
  const ctx = point.ctx_size ?? Math.ceil(needed / 256) * 256;
  let rejected: string | null = null;
  if (point.ctx_size !== null && point.ctx_size < needed) {
    rejected = `context size ${point.ctx_size} is smaller than the ${needed} tokens the largest test needs`;
  } else if (
    point.type_v !== "f16" &&
    point.type_v !== "f32" &&
    point.type_v !== "bf16" &&
    point.flash_attn === false
  ) {
    rejected = `a quantized V cache (type_v ${point.type_v}) requires flash attention (--flash-attn 1)`;
  } else {
    const estimate = estimateEngineMemory(file.info, file.file_bytes, {
      ctx_tokens_per_sequence: ctx,
      parallel: point.parallel,
      ubatch_size: Math.min(point.batch_size, point.ubatch_size),
      type_k: point.type_k,
      type_v: point.type_v,
    });
    if (estimate.total_bytes > available) {
      rejected =
        `does not fit in memory: needs at least ${formatBytes(estimate.total_bytes)} ` +
        `(weights ${formatBytes(estimate.weights_bytes)}, KV cache ${formatBytes(estimate.kv_cache_bytes)} ` +
        `for ${ctx} x ${point.parallel} cells), ${formatBytes(available)} available`;
    }
  }
  return { point, ctx_size: ctx, rejected };
}

function baseRow(
  model: EngineModelInfo,
  backend: string,
  planned: PlannedPoint,
  test: BenchTest,
  gpuLayers: number,
): BenchRow {
  const p = planned.point;
  return {
    test: benchTestName(test),
    model_filename: model.model_filename,
    model_type: model.model_type,
    model_size: model.model_size,
    model_n_params: model.model_n_params,
    backends: backend,
    n_prompt: test.n_prompt,
    n_gen: test.n_gen,
    n_depth: test.n_depth,
    n_threads: p.threads,
    n_batch: p.batch_size,
    n_ubatch: effectiveBatchSize({
      batch_size: p.batch_size,
      ubatch_size: p.ubatch_size,
      ctx_size: planned.ctx_size,
    }),
    n_ctx: null,
    n_gpu_layers: gpuLayers,
    type_k: p.type_k,
    type_v: p.type_v,
    flash_attn: p.flash_attn,
    n_parallel: p.parallel,
    decode_loop: "sequence",
    test_time: new Date().toISOString(),
    avg_ns: null,
    stddev_ns: null,
    avg_ts: null,
    stddev_ts: null,
    samples_ns: [],
    samples_ts: [],
    engine_cpu_ns: [],
    engine_prompt_ms: null,
    engine_eval_ms: null,
    engine_ts: null,
    engine_mismatch: null,
    ceiling_tps: null,
    efficiency_pct: null,
    status: "ok",
    error: null,
  };
}

interface TestRunOptions {
  /** `/p<k>` naming the grid point in trace ids when the grid has several, else "". */
  trace_point: string;
  binding: EngineBinding;
  repetitions: number;
  warmup: boolean;
  tokens: (n: number) => Token[];
  chunk: number;
  parallel: number;
  /** Use a {@link DirectDecoder} on this model and thread count when one can be opened; null: never. */
  direct: { model: LlamaModel; threads: number } | null;
  trace: TraceWriter | null;
  signal: AbortSignal | undefined;
}

/**
 * One test, llama-bench's way: optional warmup, then per repetition clear the KV cache, fill the
 * depth (untimed), then time prompt processing and generation. Wall time and llama.cpp's counters
 * are taken over exactly the same span.
 */
async function runTest(
  row: BenchRow,
  test: BenchTest,
  context: LlamaContext,
  o: TestRunOptions,
): Promise<void> {
  const sequences: LlamaContextSequence[] = [];
  const decoder = o.direct === null ? null : DirectDecoder.open(context, o.direct.model, o.direct.threads);
  try {
    let clear: () => Promise<unknown>;
    let generate: (
      s: number,
      prompt: readonly Token[],
      options: GenerateOptions,
    ) => Promise<GenerationResult>;
    if (decoder !== null) {
      row.decode_loop = "direct";
      clear = async () => decoder.clear();
      generate = (_s, prompt, options) => decoder.generate(prompt, options);
    } else {
      for (let s = 0; s < o.parallel; s++) sequences.push(context.getSequence());
      clear = () => Promise.all(sequences.map((seq) => seq.clearHistory()));
      generate = (s, prompt, options) =>
        generateOnSequence(sequences[s] as LlamaContextSequence, prompt, options);
    }
    const streams = Array.from({ length: o.parallel }, (_, s) => s);
    const next_token = (): Token => o.tokens(1)[0] as Token;
    // llama-bench's tests: pp computes logits for the last prompt token; tg is n_gen single-token
    // decodes of pseudo-random tokens, each computing logits; pg both. Nothing is sampled on the
    // direct loop (llama-bench samples nothing; sampling is in the request-level figures); the
    // sequence API (parallel sequences) cannot skip it and samples greedily.
    const maxTokens = test.n_prompt > 0 ? 1 + test.n_gen : test.n_gen;
    const promptLength = test.n_prompt > 0 ? test.n_prompt : 1;

    if (o.warmup) {
      await clear();
      const warm = test.n_prompt > 0 ? Math.min(test.n_prompt, o.chunk) : 1;
      await Promise.all(
        streams.map((s) =>
          generate(s, o.tokens(warm), { chunk_size: o.chunk, max_tokens: 2, ignore_eos: true, next_token }),
        ),
      );
    }

    const samplesNs: number[] = [];
    const cpuNs: number[] = [];
    // Pure decode tests (tg) of one sequence: each decode step's wall time, whose 10th and 50th
    // percentiles per repetition are kept (BenchRow.decode_step_p10_ns; src/metrics/decodeStepRate.ts).
    // One subtraction and push per token on the hot path.
    const stepTimed = test.n_prompt === 0 && test.n_gen > MIN_DECODE_STEPS && o.parallel === 1;
    const stepP10: number[] = [];
    const stepP50: number[] = [];
    const enginePrompt: number[] = [];
    const engineEval: number[] = [];
    let engineOk = true;
    const tokensPerRep = o.parallel * (test.n_prompt + test.n_gen);
    for (let rep = 0; rep < o.repetitions; rep++) {
      if (o.signal?.aborted === true) break;
      await clear();
      if (test.n_depth > 0) {
        await Promise.all(
          streams.map((s) => generate(s, o.tokens(test.n_depth), { chunk_size: o.chunk, max_tokens: 0 })),
        );
      }
      await o.binding.readPerf(context); // resets the counters: what follows is the timed span only
      const prompts = streams.map(() => o.tokens(promptLength));
      const ids = streams.map(
        (s) => `${row.test.replace(/ /g, "")}/t${row.n_threads}${o.trace_point}/r${rep}/s${s}`,
      );
      const stepMs: number[] = [];
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      if (o.trace !== null) {
        for (const s of streams) {
          o.trace.generationStart(
            {
              id: ids[s] as string,
              sequence: s,
              prompt_tokens: promptLength,
              max_tokens: maxTokens,
              n_depth: test.n_depth,
              settings: traceSettings(row),
            },
            start,
          );
        }
      }
      const results = await Promise.all(
        streams.map((s) =>
          generate(s, prompts[s] as Token[], {
            chunk_size: o.chunk,
            max_tokens: maxTokens,
            ignore_eos: true,
            next_token,
            on_step:
              o.trace?.recordsSteps === true
                ? (step) => {
                    if (stepTimed && step.kind === "decode") stepMs.push(step.t_end_ms - step.t_start_ms);
                    o.trace?.step(ids[s] as string, step);
                  }
                : stepTimed
                  ? (step) => {
                      if (step.kind === "decode") stepMs.push(step.t_end_ms - step.t_start_ms);
                    }
                  : undefined,
          }),
        ),
      );
      const end = performance.now();
      const cpu = process.cpuUsage(cpuStart);
      const perf = await o.binding.readPerf(context);
      for (const r of results) {
        if (r.tokens.length !== maxTokens) {
          throw new TokbenchError(
            "INTERNAL",
            `${row.test}: expected ${maxTokens} engine outputs, got ${r.tokens.length}`,
          );
        }
      }
      samplesNs.push(Math.round((end - start) * 1e6));
      cpuNs.push((cpu.user + cpu.system) * 1000);
      if (stepTimed && stepMs.length >= MIN_DECODE_STEPS) {
        stepP10.push(Math.round(quantileOf(stepMs, 0.1) * 1e6));
        stepP50.push(Math.round(quantileOf(stepMs, 0.5) * 1e6));
      }
      if (perf === null) engineOk = false;
      else {
        enginePrompt.push(perf.prompt_ms);
        engineEval.push(perf.eval_ms);
      }
      if (o.trace !== null) traceEnds(o.trace, ids, results, promptLength, perf, o.parallel);
    }
    if (samplesNs.length === 0)
      throw new TokbenchError("RUN_INTERRUPTED", "interrupted before the first repetition");
    const samplesTs = samplesNs.map((ns) => (tokensPerRep * 1e9) / ns);
    row.samples_ns = samplesNs;
    row.samples_ts = samplesTs.map((x) => Math.round(x * 1000) / 1000);
    row.engine_cpu_ns = cpuNs;
    if (stepTimed && stepP10.length === samplesNs.length) {
      row.decode_step_p10_ns = stepP10;
      row.decode_step_p50_ns = stepP50;
    }
    row.avg_ns = Math.round(mean(samplesNs));
    row.stddev_ns = Math.round(stddev(samplesNs));
    row.avg_ts = mean(samplesTs);
    row.stddev_ts = stddev(samplesTs);
    if (engineOk && enginePrompt.length > 0) {
      row.engine_prompt_ms = mean(enginePrompt);
      row.engine_eval_ms = mean(engineEval);
      const engineMs = row.engine_prompt_ms + row.engine_eval_ms;
      row.engine_ts = engineMs > 0 ? (tokensPerRep * 1000) / engineMs : null;
      row.engine_mismatch =
        row.engine_ts === null ? null : Math.abs(row.avg_ts / row.engine_ts - 1) > ENGINE_MISMATCH_TOLERANCE;
    }
  } finally {
    decoder?.dispose();
    for (const seq of sequences) seq.dispose();
  }
}

function traceSettings(row: BenchRow): Record<string, unknown> {
  return {
    test: row.test,
    n_threads: row.n_threads,
    n_batch: row.n_batch,
    n_ubatch: row.n_ubatch,
    n_gpu_layers: row.n_gpu_layers,
    type_k: row.type_k,
    type_v: row.type_v,
    flash_attn: row.flash_attn,
    n_parallel: row.n_parallel,
  };
}

function traceEnds(
  trace: TraceWriter,
  ids: readonly string[],
  results: readonly Awaited<ReturnType<typeof generateOnSequence>>[],
  promptLength: number,
  perf: EnginePerf | null,
  parallel: number,
): void {
  results.forEach((r, s) => {
    trace.generationEnd(
      {
        id: ids[s] as string,
        prompt_tokens: promptLength,
        output_tokens: r.tokens.length,
        prefill_batches: r.prefill_batches,
        ttft_ms: r.tokens.length > 0 ? r.prefill_end_ms - r.start_ms : null,
        decode_ms: r.tokens.length > 1 ? r.end_ms - r.prefill_end_ms : null,
        total_ms: r.end_ms - r.start_ms,
        // Counters are per context: with several sequences they cover all of them together.
        engine: parallel === 1 ? perf : null,
        error: null,
      },
      r.end_ms,
    );
  });
}

function applyCeiling(
  row: BenchRow,
  model: EngineModelInfo,
  point: EngineGridPoint,
  test: BenchTest,
  ceiling: DecodeCeiling | null,
): void {
  // The ceiling is for one stream; batched streams share weight reads, so it does not apply to them.
  if (
    ceiling === null ||
    test.n_prompt > 0 ||
    test.n_gen === 0 ||
    row.avg_ts === null ||
    point.parallel !== 1
  )
    return;
  const tps = ceiling(model, { ...point, n_depth: test.n_depth });
  if (tps === null || !(tps > 0)) return;
  row.ceiling_tps = tps;
  row.efficiency_pct = (100 * row.avg_ts) / tps;
}
