import { availableParallelism } from "node:os";

/** Inputs of {@link recommendedThreads}; all optional so the function can run on the current machine. */
export interface RecommendedThreadsOptions {
  /** CPUs this process may run on. Defaults to `os.availableParallelism()`. */
  logicalCpus?: number;
  /** Physical cores used for math, as llama.cpp counts them (`llama.cpuMathCores`). Defaults to `logicalCpus`. */
  mathCores?: number;
  /** Which binary runs: the tuned local build keeps its threads alive between tokens, the prebuilt does not. Defaults to "native". */
  build?: "native" | "prebuilt";
  /** What the threads will mostly do: "decode" (one token at a time) or "prefill" (batches). Defaults to "decode". */
  workload?: "decode" | "prefill";
}

/**
 * The thread count tokbench uses when the user gives none.
 *
 * llama.cpp's own default is the number of physical math cores. Two things in-process change that:
 * with the prebuilt binary every decode step creates its extra threads anew (see
 * TUNED_CMAKE_OPTIONS), which on machines with at most 2 cores costs more than the second thread
 * brings for single-token decode; and the Node process has its own threads (main loop, libuv pool,
 * GC), so on small machines all-cores leaves no core for them. The rule:
 * - native build: all math cores (what llama-bench's best rate uses), capped at logical CPUs;
 * - prebuilt build, decode, <= 2 math cores: 1 thread;
 * - prebuilt otherwise: all math cores.
 */
export function recommendedThreads(options: RecommendedThreadsOptions = {}): number {
  const logical = Math.max(1, Math.floor(options.logicalCpus ?? availableParallelism()));
  const math = Math.max(1, Math.min(logical, Math.floor(options.mathCores ?? logical)));
  const build = options.build ?? "native";
  const workload = options.workload ?? "decode";
  if (build === "prebuilt" && workload === "decode" && math <= 2) return 1;
  return math;
}
