/**
 * Results of an observation run (`tokbench bench --experts --layers`, graph tensors with `--trace-level verbose`):
 * what happens inside a step, seen through llama.cpp's graph evaluation callback. Observed steps are
 * slower than plain ones (the observer synchronises after layers and routers), so none of these
 * figures is a speed figure: such runs carry `observation.speed_figures: false`, produce no
 * `tests[]` rows, and belong in no regression baseline. Definitions: docs/trace.md.
 */

/** What an observation run observed and how. */
export interface ObservationInfo {
  /** `experts`: routing counts; `layers`: per-layer timing; `tensors`: graph tensors in the trace. */
  kinds: ("experts" | "layers" | "tensors")[];
  /** Always false: observed steps are not a measure of engine speed. */
  speed_figures: false;
  /** The one grid point observed (threads, batch, ...). */
  settings: Record<string, unknown>;
  /** Observed generations per test (each paired with one unobserved reference generation). */
  repetitions: number;
  /**
   * What observing cost, per test and phase: observed steps against the same steps unobserved (the
   * reference generations of the same run), inside llama_decode and on the JavaScript clock around
   * the decode call.
   */
  overhead: {
    test: string;
    phase: "prefill" | "decode";
    steps: number;
    observed_decode_ms_mean: number;
    unobserved_decode_ms_mean: number | null;
    observed_step_ms_mean: number;
    unobserved_step_ms_mean: number | null;
    /** As {@link LayerTiming.overhead_pct}. */
    overhead_pct: number | null;
    observed_cpu_ms_mean: number;
    unobserved_cpu_ms_mean: number | null;
    /** As {@link LayerTiming.overhead_cpu_pct}. */
    overhead_cpu_pct: number | null;
  }[];
  /** The native observer and the llama.cpp release it was built for (same as the engine's). */
  observer: { path: string; llama_cpp_release: string; llama_cpp_commit: string };
  /** Problems found by the consistency checks (empty in a sound run). */
  warnings: string[];
}

/** One (layer, expert) pair ranked by how often the router chose it. */
export interface ExpertRank {
  layer: number;
  expert: number;
  /** Selections over the observed tokens (prompt and generated). */
  count: number;
  /** count / the layer's selections × 100. */
  share_pct: number;
  /** count / the uniform expectation (the layer's selections / n_expert): 1 = average, 0 = never chosen. */
  vs_uniform: number;
}

/** One MoE layer's routing counts. */
export interface ExpertLayerUsage {
  layer: number;
  /** Selections per expert (index = expert id), prompt and generated tokens together. */
  counts: number[];
  prompt_counts: number[];
  generated_counts: number[];
  /**
   * Tokens the router of this layer saw. Equal to prompt + generated tokens in every layer except
   * the last, where llama.cpp routes only the tokens whose logits are wanted (one per prompt batch).
   */
  tokens: number;
  /** Sum of `counts`; always tokens × n_expert_used. */
  selections: number;
  /** Fewest experts that together take 80 % of the layer's selections (small: concentrated routing). */
  experts_for_80pct: number;
}

/**
 * A llama.cpp `--override-tensor` (`-ot`) placement derived from the counts. llama.cpp stores each
 * layer's experts in one tensor per projection (`blk.N.ffn_{gate,up,down}_exps.weight`), so it can
 * place whole layers' experts, not single experts: see `note`.
 */
export interface OverrideTensorAdvice {
  /** MoE layers, most concentrated routing first: the order in which to send layers' experts to the CPU. */
  cpu_first: number[];
  /** The layers the pattern sends to the CPU (the first half of `cpu_first`). */
  cpu_layers: number[];
  /** The regular expression and buffer type, e.g. `blk\.(3|7)\.ffn_(up|gate|down)_exps\.weight=CPU`. */
  pattern: string;
  /** The whole llama.cpp argument, for use with `-ngl 99`. */
  argument: string;
  note: string;
}

/** Mixture-of-experts routing counts over the observed generations (`--experts`). */
export interface ExpertUsage {
  n_expert: number;
  n_expert_used: number;
  /** Layers with a router in the GGUF (`blk.N.ffn_gate_inp.weight`). */
  n_moe_layers: number;
  /** Tokens of observed prompt batches. */
  prompt_tokens: number;
  /** Tokens of observed generation steps. */
  generated_tokens: number;
  /** All selections: the sum over layers of tokens × n_expert_used. */
  total_selections: number;
  layers: ExpertLayerUsage[];
  /** The most chosen (layer, expert) pairs, most first. */
  hot: ExpertRank[];
  /** The least chosen pairs, least first (never chosen included). */
  cold: ExpertRank[];
  override_tensor: OverrideTensorAdvice | null;
}

/** One layer's time in one phase. */
export interface LayerTime {
  layer: number;
  ms_mean: number;
  /** Nearest-rank p95 over the observed steps; null under 20 steps. */
  ms_p95: number | null;
  /** ms_mean / decode_ms_mean × 100: this layer's share of the observed llama_decode. */
  share_pct: number;
}

/** Per-layer timing of one test's prefill batches or decode steps (`--layers`). */
export interface LayerTiming {
  /** The llama-bench test, e.g. `tg32`, `pp512`. */
  test: string;
  phase: "prefill" | "decode";
  /** Observed steps (llama_decode calls). */
  steps: number;
  /** Mean tokens per step (1 for decode; the batch size for prefill). */
  tokens_per_step: number;
  /** Mean observed step, measured in JavaScript around the decode call. */
  step_ms_mean: number;
  /** Mean observed llama_decode, measured inside it: Σ layers + outside_layers_ms + observer_ms. */
  decode_ms_mean: number;
  /**
   * llama.cpp's own counter for the same observed steps (`llama_perf_context`: prompt eval time for
   * prefill, eval time for decode), per step: a clock independent of the observer's; null when the
   * counters could not be read.
   */
  engine_ms_mean: number | null;
  /** Mean llama_decode of the same steps run without observation (reference generations, same clock). */
  unobserved_decode_ms_mean: number | null;
  /** Mean of the same steps without observation on the JavaScript clock. */
  unobserved_step_ms_mean: number | null;
  /**
   * What observing cost, in %: observed llama_decode / the same step's unobserved llama_decode, − 1.
   * A pair is the same tokens at the same cache position, run one generation apart; the order
   * alternates between repetitions, and the figure is the geometric mean of the two orders' median
   * ratios (the median of one order's pairs with one repetition). A load spike on a shared machine
   * moves one pair, not the figure; the advantage of running second (warm caches, pages already
   * read) cancels between the orders.
   */
  overhead_pct: number | null;
  /** Mean CPU time of the process during an observed llama_decode (all its threads). */
  cpu_ms_mean: number;
  /** The same for the unobserved steps. */
  unobserved_cpu_ms_mean: number | null;
  /**
   * As `overhead_pct`, on the process's CPU time instead of the wall clock: what observing cost in
   * work, unaffected by other processes taking the cores (on a loaded machine, the figure to trust).
   */
  overhead_cpu_pct: number | null;
  layers: LayerTime[];
  /** input_ms + output_ms: the step outside the transformer layers. */
  outside_layers_ms: number;
  /** Mean time before the first layer: graph build or reuse, input upload, embedding lookup. */
  input_ms: number;
  /** Mean time after the last layer: final norm, output head, logits copy-out. */
  output_ms: number;
  /** Mean time of the observer's own work inside llama_decode (graph layout, router reads). */
  observer_ms: number;
  /** Mean synchronisation points the observation added per step. */
  syncs_per_step: number;
}
