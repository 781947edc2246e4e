import { availableParallelism } from "node:os";
import { isEngineEnvApplied } from "./engineProcessEnv.js";

/** Inputs of {@link recommendedThreads}; all optional so the function can run on the current machine. */
export interface RecommendedThreadsOptions {
  /** CPUs this process may run on. Defaults to `os.availableParallelism()`. */
  logicalCpus?: number;
  /** Physical cores used for math, as llama.cpp counts them (`llama.cpuMathCores`). Defaults to `logicalCpus`. */
  mathCores?: number;
  /** Which binary runs: the tuned local build (OpenMP) or node-llama-cpp's prebuilt one. Defaults to "native". */
  build?: "native" | "prebuilt";
  /** Whether the process started with ENGINE_PROCESS_ENV (one libuv pool thread). Defaults to `isEngineEnvApplied()`. */
  engineEnv?: boolean;
  /** What the threads will mostly do: "decode" (one token at a time) or "prefill" (batches). Defaults to "decode". */
  workload?: "decode" | "prefill";
}

/**
 * The thread count tokbench uses when the user gives none.
 *
 * llama.cpp's own default is every physical math core, and that is what llama-bench's best rate
 * uses. In-process, that is only right with the tuned build in a process started with
 * ENGINE_PROCESS_ENV. Otherwise single-token decode with every core of a machine of at most 2 math
 * cores is slower than with one thread (docs/engine-speed.md): the prebuilt binary spawns its extra
 * threads anew for every token and its spin barrier stalls whenever a Node thread takes the core,
 * and an OpenMP build fed from several libuv threads keeps several spinning teams. So:
 * - tuned build with the engine environment, or prefill, or more than 2 math cores: all math cores;
 * - otherwise (decode on <= 2 math cores): 1 thread.
 */
export function recommendedThreads(options: RecommendedThreadsOptions = {}): number {
  const logical = Math.max(1, Math.floor(options.logicalCpus ?? availableParallelism()));
  const math = Math.max(1, Math.min(logical, Math.floor(options.mathCores ?? logical)));
  const build = options.build ?? "native";
  const engineEnv = options.engineEnv ?? isEngineEnvApplied();
  const workload = options.workload ?? "decode";
  const contended = !(build === "native" && engineEnv);
  if (contended && workload === "decode" && math <= 2) return 1;
  return math;
}
