import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type BuildPrerequisite,
  checkBuildPrerequisites,
  listLocalBuilds,
  nodeLlamaCppPaths,
} from "./buildTunedEngine.js";
import { getTunedLlama } from "./getTunedLlama.js";
import { recommendedThreads } from "./recommendedThreads.js";

/** Which llama.cpp build the embedded engine would use now, and why. Plain data. */
export interface EngineSetup {
  /** `native`: tokbench's tuned local build; `prebuilt`: node-llama-cpp's shipped binary. */
  build: "native" | "prebuilt";
  /** Compute backend: `cpu`, or the GPU backend of a prebuilt GPU binary. */
  backend: string;
  /** One sentence: why this build is the one used. */
  reason: string;
  /** One sentence on what the build costs the figures, or null when nothing is known to. */
  limitation: string | null;
  node_llama_cpp_version: string;
  llama_cpp_release: string;
  /** llama.cpp's system-info line (CPU features, OpenMP). */
  system_info: string;
  /** Physical cores llama.cpp computes on. */
  math_cores: number;
  /** Threads tokbench uses for decode when `--threads` is not given. */
  default_threads: number;
  /** Local builds in node-llama-cpp's package folder (folder names). */
  local_builds: string[];
  /** node-llama-cpp's package folder, where `tokbench engine build` writes. */
  package_dir: string;
  /** The tools `tokbench engine build` needs. */
  build_tools: BuildPrerequisite[];
}

/**
 * Loads node-llama-cpp the way `tokbench bench` does (tuned build first, for CPU runs) and says
 * which build that gave and why. Never compiles or downloads anything.
 */
export async function describeEngineSetup(): Promise<EngineSetup> {
  const paths = nodeLlamaCppPaths();
  const tuned = await getTunedLlama({ gpu: "auto" });
  const llama = tuned.llama;
  const backend = llama.gpu === false ? "cpu" : llama.gpu;
  let version = "?";
  try {
    version = (
      JSON.parse(await readFile(join(paths.package_dir, "package.json"), "utf8")) as { version: string }
    ).version;
  } catch {
    // An unreadable package.json only loses the version.
  }
  const localBuilds = await listLocalBuilds();
  const build = tuned.build;
  const mathCores = llama.cpuMathCores;
  // Runs of the tuned build happen in a process relaunched with the engine environment.
  const defaultThreads = recommendedThreads({ mathCores, build, engineEnv: build === "native" });
  let reason: string;
  let limitation: string | null = null;
  if (build === "native") {
    reason =
      "tokbench's tuned build (OpenMP, -march=native) is present; CPU runs load it, in a process started with UV_THREADPOOL_SIZE=1";
  } else if (backend !== "cpu") {
    reason = `a ${backend} GPU backend is available; the tuned build is CPU-only, so the prebuilt ${backend} binary is used`;
  } else {
    reason = "no tuned build yet: `tokbench engine build` compiles one (once, offline, 5-20 min on 2 cores)";
    limitation =
      mathCores <= 2
        ? `this binary decodes slower with 2 threads than with 1 on ${mathCores} cores, so tokbench uses 1 (about half of llama-bench's 2-thread rate)`
        : "its decode with several threads runs well below llama-bench's (threads created per token, spin barrier)";
  }
  const setup: EngineSetup = {
    build,
    backend,
    reason,
    limitation,
    node_llama_cpp_version: version,
    llama_cpp_release: llama.llamaCppRelease.release,
    system_info: tuned.systemInfo.trim(),
    math_cores: mathCores,
    default_threads: defaultThreads,
    local_builds: localBuilds,
    package_dir: paths.package_dir,
    build_tools: checkBuildPrerequisites(),
  };
  await llama.dispose();
  return setup;
}
