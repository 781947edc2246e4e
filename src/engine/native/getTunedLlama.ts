import type { Llama, LlamaLogLevel } from "node-llama-cpp";
import { TokbenchError } from "../../errors/TokbenchError.js";
import { recommendedThreads } from "./recommendedThreads.js";
import { TUNED_CMAKE_OPTIONS } from "./tunedBuildOptions.js";

/** Which binary {@link getTunedLlama} may load. */
export type TunedBuildPreference =
  /** The tuned local build when it exists, otherwise node-llama-cpp's prebuilt binary. */
  | "auto"
  /** Only the tuned local build; `ENGINE_UNAVAILABLE` when it was not built. */
  | "native"
  /** Only node-llama-cpp's prebuilt binary (what a plain `getLlama()` loads on a CPU machine). */
  | "prebuilt";

/** Options of {@link getTunedLlama}. */
export interface TunedLlamaOptions {
  /** See {@link TunedBuildPreference}. Defaults to "auto". */
  build?: TunedBuildPreference;
  /**
   * GPU backend. The tuned build is CPU-only, so it is considered only when this is `false` or when
   * no GPU backend is usable on the machine. Defaults to "auto".
   */
  gpu?: "auto" | false;
  /** llama.cpp log level. Defaults to "warn". */
  logLevel?: `${LlamaLogLevel}`;
  /**
   * node-llama-cpp's ceiling on the threads a context gets; 0 means none, so the thread count asked
   * for is the one used, as in llama-bench. Defaults to 0.
   */
  maxThreads?: number;
}

/** What {@link getTunedLlama} loaded. */
export interface TunedLlama {
  /** The node-llama-cpp instance. */
  llama: Llama;
  /** "native": the tuned local build; "prebuilt": node-llama-cpp's shipped binary (or a GPU build). */
  build: "native" | "prebuilt";
  /** Threads tokbench uses by default with this binary (see {@link recommendedThreads}). */
  defaultThreads: number;
  /** llama.cpp's system-info line of the loaded backend (CPU features, OpenMP). */
  systemInfo: string;
}

/**
 * Loads node-llama-cpp for benchmarking: the tuned local build (`tokbench engine build`, see
 * docs/engine-speed.md) when present, so in-process rates match llama-bench's, and otherwise the
 * prebuilt binary. Never compiles anything and never downloads anything.
 */
export async function getTunedLlama(options: TunedLlamaOptions = {}): Promise<TunedLlama> {
  const preference = options.build ?? "auto";
  const gpu = options.gpu ?? "auto";
  const { getLlama, getLlamaGpuTypes } = await loadNodeLlamaCpp();
  const logLevel = (options.logLevel ?? "warn") as LlamaLogLevel;
  const maxThreads = options.maxThreads ?? 0;

  const cpuOnly = gpu === false || (await getLlamaGpuTypes("supported")).every((type) => type === false);
  if (preference !== "prebuilt" && cpuOnly) {
    try {
      const llama = await getLlama({
        gpu: false,
        build: "never",
        cmakeOptions: { ...TUNED_CMAKE_OPTIONS },
        // Without this, a missing local build silently falls back to the prebuilt binary.
        usePrebuiltBinaries: preference === "auto",
        existingPrebuiltBinaryMustMatchBuildOptions: false,
        skipDownload: true,
        progressLogs: false,
        logLevel,
        maxThreads,
      });
      const build = llama.buildType === "localBuild" ? "native" : "prebuilt";
      return describe(llama, build);
    } catch (error) {
      if (preference === "native") {
        throw new TokbenchError(
          "ENGINE_UNAVAILABLE",
          "the tuned llama.cpp build is missing: run `tokbench engine build` (see docs/engine-speed.md)",
          { cause: error },
        );
      }
    }
  } else if (preference === "native") {
    throw new TokbenchError(
      "ENGINE_UNAVAILABLE",
      "the tuned llama.cpp build is CPU-only but a GPU was requested",
    );
  }
  try {
    const llama = await getLlama({
      gpu,
      build: "never",
      skipDownload: true,
      progressLogs: false,
      logLevel,
      maxThreads,
    });
    return describe(llama, "prebuilt");
  } catch (error) {
    throw new TokbenchError("ENGINE_UNAVAILABLE", "node-llama-cpp could not load a llama.cpp binary", {
      cause: error,
    });
  }
}

function describe(llama: Llama, build: "native" | "prebuilt"): TunedLlama {
  return {
    llama,
    build,
    defaultThreads: recommendedThreads({ mathCores: llama.cpuMathCores, build }),
    systemInfo: llama.systemInfo,
  };
}

async function loadNodeLlamaCpp(): Promise<typeof import("node-llama-cpp")> {
  try {
    return await import("node-llama-cpp");
  } catch (error) {
    throw new TokbenchError("ENGINE_UNAVAILABLE", "node-llama-cpp is not installed", { cause: error });
  }
}
