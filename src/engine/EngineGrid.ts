import { TokbenchError } from "../errors/TokbenchError.js";
import type { GpuLayersSpec, KvCacheType } from "./knobValues.js";

/**
 * The knobs of an embedded benchmark, each a list of values; the grid is their cartesian product,
 * as in llama-bench.
 */
export interface EngineKnobs {
  /** CPU threads for generation and prompt processing. */
  threads: number[];
  /** Logical batch size (llama.cpp `n_batch`). */
  batch_size: number[];
  /** Physical batch size (llama.cpp `n_ubatch`). */
  ubatch_size: number[];
  /** Context size per sequence in tokens; null sizes it to the largest test. */
  ctx_size: (number | null)[];
  gpu_layers: GpuLayersSpec[];
  flash_attn: (boolean | "auto")[];
  type_k: KvCacheType[];
  type_v: KvCacheType[];
  /** Parallel sequences in one context (llama.cpp `n_seq_max`). */
  parallel: number[];
}

/**
 * Knobs of a single grid point with llama-bench's defaults (batch 2048, ubatch 512, f16 KV cache,
 * no flash attention, no GPU layers, one sequence, context sized to the tests), `threads` threads,
 * and any knob list in `over` instead.
 */
export function singlePointKnobs(threads: number, over: Partial<EngineKnobs> = {}): EngineKnobs {
  return {
    threads: [threads],
    batch_size: [2048],
    ubatch_size: [512],
    ctx_size: [null],
    gpu_layers: [{ layers: 0 }],
    flash_attn: [false],
    type_k: ["f16"],
    type_v: ["f16"],
    parallel: [1],
    ...over,
  };
}

/** Timed repetitions of every test: `value`, or llama-bench's 5; INVALID_ARGUMENT unless a positive integer. */
export function resolveRepetitions(value: number | undefined): number {
  const repetitions = value ?? 5;
  if (!Number.isInteger(repetitions) || repetitions < 1) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--repetitions: must be a positive integer, got ${repetitions}`,
    );
  }
  return repetitions;
}

/** One point of the grid: one value of every knob. */
export interface EngineGridPoint {
  threads: number;
  batch_size: number;
  ubatch_size: number;
  ctx_size: number | null;
  gpu_layers: GpuLayersSpec;
  flash_attn: boolean | "auto";
  type_k: KvCacheType;
  type_v: KvCacheType;
  parallel: number;
}

/** One llama-bench test: `n_prompt` tokens of prompt processing then `n_gen` decode steps, after `n_depth` tokens of context. */
export interface BenchTest {
  n_prompt: number;
  n_gen: number;
  n_depth: number;
}

/** The tests to run at every grid point. */
export interface BenchTestPlan {
  /** Prompt-processing tests (`--pp`). */
  pp: number[];
  /** Generation tests (`--tg`). */
  tg: number[];
  /** Prompt+generation pairs (`--pg`). */
  pg: [number, number][];
  /** Context depths (`--depth`); every test runs at each. */
  depth: number[];
}

/**
 * Expands knob lists into grid points, in llama-bench's nesting order with the knobs that need a
 * model reload (GPU layers) outermost, so points sharing a loaded model are adjacent.
 * An empty list contributes nothing, so the grid is empty; callers fill in defaults first.
 */
export function expandGrid(knobs: EngineKnobs): EngineGridPoint[] {
  // llama-bench's own nesting (GPU layers outermost). Written out rather than through
  // search/cartesianProduct: the engine sits below search, which nothing under benchmark imports.
  const out: EngineGridPoint[] = [];
  for (const gpu_layers of knobs.gpu_layers)
    for (const threads of knobs.threads)
      for (const batch_size of knobs.batch_size)
        for (const ubatch_size of knobs.ubatch_size)
          for (const ctx_size of knobs.ctx_size)
            for (const flash_attn of knobs.flash_attn)
              for (const type_k of knobs.type_k)
                for (const type_v of knobs.type_v)
                  for (const parallel of knobs.parallel)
                    out.push({
                      threads,
                      batch_size,
                      ubatch_size,
                      ctx_size,
                      gpu_layers,
                      flash_attn,
                      type_k,
                      type_v,
                      parallel,
                    });
  return out;
}

/**
 * Expands the test plan as llama-bench does: for each depth, every pp test (`n_gen` 0), then every
 * tg test (`n_prompt` 0), then every pg pair. Zero-length pp/tg entries are skipped (llama-bench
 * uses `-p 0` to mean "no pp test").
 */
export function expandTests(plan: BenchTestPlan): BenchTest[] {
  const out: BenchTest[] = [];
  const depths = plan.depth.length === 0 ? [0] : plan.depth;
  for (const n_depth of depths) {
    for (const n_prompt of plan.pp) if (n_prompt > 0) out.push({ n_prompt, n_gen: 0, n_depth });
    for (const n_gen of plan.tg) if (n_gen > 0) out.push({ n_prompt: 0, n_gen, n_depth });
    for (const [n_prompt, n_gen] of plan.pg) out.push({ n_prompt, n_gen, n_depth });
  }
  return out;
}

/** llama-bench's test name: `pp512`, `tg128`, `pp512+tg128`, with ` @ d1024` for a depth. */
export function benchTestName(test: BenchTest): string {
  const parts: string[] = [];
  if (test.n_prompt > 0) parts.push(`pp${test.n_prompt}`);
  if (test.n_gen > 0) parts.push(`tg${test.n_gen}`);
  const name = parts.join("+");
  return test.n_depth > 0 ? `${name} @ d${test.n_depth}` : name;
}

/** Tokens of KV cache one sequence needs for a test. */
export function testContextTokens(test: BenchTest): number {
  return test.n_depth + test.n_prompt + test.n_gen + 1;
}

/** Resolves a GPU-layer spec against the model's offloadable layer count (percent rounds to nearest). */
export function resolveGpuLayers(spec: GpuLayersSpec, totalLayers: number): number {
  if ("layers" in spec) return Math.min(spec.layers, totalLayers);
  return Math.round((spec.percent / 100) * totalLayers);
}
