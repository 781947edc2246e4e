import { TokbenchError } from "../../errors/TokbenchError.js";
import { TUNED_CMAKE_OPTIONS } from "./tunedBuildOptions.js";

/** Options of {@link buildTunedLlama}. */
export interface BuildTunedLlamaOptions {
  /** Rebuild even when the tuned build exists. Defaults to false. */
  force?: boolean;
  /** Where node-llama-cpp's compile logs go. Defaults to "stderr". */
  progressLogs?: false | "stderr";
}

/** What {@link buildTunedLlama} did. */
export interface BuildTunedLlamaResult {
  /** True when this call compiled; false when an existing build was reused. */
  built: boolean;
  /** llama.cpp's system-info line of the build (CPU features, OpenMP). */
  systemInfo: string;
  /** The cmake options the build was made with. */
  cmakeOptions: Readonly<Record<string, string>>;
}

/**
 * Compiles node-llama-cpp's addon and llama.cpp with {@link TUNED_CMAKE_OPTIONS} from the source
 * already checked out into node-llama-cpp, or reuses that build. Takes minutes; the compile step of
 * `tokbench engine build` (see buildTunedEngine, which checks out the source and reports progress).
 */
export async function buildTunedLlama(options: BuildTunedLlamaOptions = {}): Promise<BuildTunedLlamaResult> {
  const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
  const common = {
    gpu: false,
    cmakeOptions: { ...TUNED_CMAKE_OPTIONS },
    usePrebuiltBinaries: false,
    skipDownload: true,
    progressLogs: options.progressLogs ?? "stderr",
    logLevel: LlamaLogLevel.warn,
  } as const;
  if (!options.force) {
    try {
      const llama = await getLlama({ ...common, build: "never" });
      const result = { built: false, systemInfo: llama.systemInfo, cmakeOptions: llama.cmakeOptions };
      await llama.dispose();
      return result;
    } catch {
      // Not built yet: fall through to the compile.
    }
  }
  try {
    const llama = await getLlama({ ...common, build: "forceRebuild" });
    const result = { built: true, systemInfo: llama.systemInfo, cmakeOptions: llama.cmakeOptions };
    await llama.dispose();
    return result;
  } catch (error) {
    throw new TokbenchError("ENGINE_LOAD_FAILED", "building the tuned llama.cpp binary failed", {
      cause: error,
    });
  }
}
