/**
 * One llama-bench-style result row: one test at one grid point. Field names follow llama-bench's
 * JSON output (`n_prompt`, `avg_ts`, `samples_ns`...); tokbench's additions are the `engine_*`
 * fields (llama.cpp's own counters), the roofline fields, `status` and `error`.
 */
export interface BenchRow {
  /** `pp512`, `tg128`, `pp512+tg128`, with ` @ d1024` at a depth. */
  test: string;
  model_filename: string;
  model_type: string;
  model_size: number;
  model_n_params: number;
  /** Compute backend of the binding (`cpu`, `cuda`, `vulkan`, `metal`). */
  backends: string;
  n_prompt: number;
  n_gen: number;
  n_depth: number;
  n_threads: number;
  n_batch: number;
  n_ubatch: number;
  /** KV cells per sequence the context really got. Null when it was not created. */
  n_ctx: number | null;
  n_gpu_layers: number;
  type_k: string;
  type_v: string;
  flash_attn: boolean | "auto";
  n_parallel: number;
  /**
   * The loop that fed the engine: `direct` (one native decode and one greedy sample per token, see
   * `DirectDecoder`; single-sequence tests) or `sequence` (node-llama-cpp's sequence API, which
   * batches parallel sequences).
   */
  decode_loop: "direct" | "sequence";
  /** ISO time the test started. */
  test_time: string;
  /** Mean wall time of a repetition, ns (integer). */
  avg_ns: number | null;
  stddev_ns: number | null;
  /** Mean of per-repetition tokens/s, tokens = n_parallel × (n_prompt + n_gen). */
  avg_ts: number | null;
  stddev_ts: number | null;
  samples_ns: number[];
  samples_ts: number[];
  /**
   * CPU time of the whole process (user + system, all threads) over each repetition's timed span,
   * ns, beside `samples_ns`. A repetition that waited for a core (another process running) shows a
   * CPU time well short of `n_threads` × its wall time: how `regress` tells the machine's load
   * from the engine's speed. Empty where not measured.
   */
  engine_cpu_ns: number[];
  /**
   * Pure decode tests (tg, one sequence, more than 8 tokens): the 10th percentile of the wall time
   * of a decode step (one token) within each repetition, ns, beside `samples_ns`. Another process
   * that takes the core stretches the steps it lands on, not the others, so this is the engine's
   * undisturbed step time even on a busy machine: the step rate `regress` judges
   * (src/metrics/decodeStepRate.ts). Absent on other tests.
   */
  decode_step_p10_ns?: number[];
  /**
   * The median decode step of each repetition, ns, beside `decode_step_p10_ns`: a repetition whose
   * median step is within 15 % of its p10 step ran steadily (few steps disturbed). Absent on other tests.
   */
  decode_step_p50_ns?: number[];
  /** llama.cpp's own time in multi-token decode calls per repetition (mean), ms. */
  engine_prompt_ms: number | null;
  /** llama.cpp's own time in single-token decode calls per repetition (mean), ms. */
  engine_eval_ms: number | null;
  /** tokens / (engine_prompt_ms + engine_eval_ms): the rate llama.cpp's counters give. */
  engine_ts: number | null;
  /** True when `avg_ts` and `engine_ts` differ by more than {@link ENGINE_MISMATCH_TOLERANCE}. */
  engine_mismatch: boolean | null;
  /** Roofline decode ceiling for this configuration, tokens/s (tg rows only). */
  ceiling_tps: number | null;
  /** avg_ts / ceiling_tps, in %. */
  efficiency_pct: number | null;
  status: "ok" | "failed";
  /** One line saying why the test failed. */
  error: string | null;
}

/** Wall-clock and engine rates further apart than this fraction set `engine_mismatch`. */
export const ENGINE_MISMATCH_TOLERANCE = 0.1;

/** Model load times of one GPU-layer setting. */
export interface LoadRow {
  test: "load";
  model_filename: string;
  n_gpu_layers: number;
  /**
   * First load of the model in this process, ms. Whether the file was already in the OS page cache
   * is not controlled (a freshly written or recently read file is), so this is "cold" for the
   * process, and a true cold-disk figure only after the cache was dropped.
   */
  load_cold_ms: number | null;
  /** Immediate second load, file pages hot in the page cache, ms. */
  load_warm_ms: number | null;
  status: "ok" | "failed";
  error: string | null;
}
