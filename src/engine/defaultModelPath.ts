import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import envPaths from "env-paths";
import { isTokbenchError } from "../errors/TokbenchError.js";
import type { SynthProgress } from "../synth/synthesizeModel.js";
import type { SynthType } from "../synth/synthTypes.js";

/** A synthetic model tokbench creates on first use: a preset, a weight type and a seed. */
export interface DefaultModelSpec {
  readonly preset: string;
  readonly type: SynthType;
  readonly seed: number;
}

/**
 * The synthetic model `tokbench bench` runs when no `--model` is given: Qwen2.5-0.5B's exact shape
 * (494M parameters, 268 MiB at Q4_0). A model of a real shape is what makes the quick start's
 * figures mean something: its weights do not fit in a CPU cache, so decode is bound by memory
 * bandwidth as with any real model (the roofline efficiency has a value), and a token takes tens
 * of milliseconds, so the engine's fixed cost per token outside llama.cpp (two thread hops, ~0.2 ms)
 * stays within the noise instead of being a third of a 5M-parameter toy's token.
 */
export const DEFAULT_MODEL: DefaultModelSpec = { preset: "qwen2.5-0.5b", type: "q4_0", seed: 1 };

/** Where a default model lives: `<user cache dir>/tokbench/models/`. */
export function defaultModelPath(
  cacheDir: string = envPaths("tokbench", { suffix: "" }).cache,
  spec: DefaultModelSpec = DEFAULT_MODEL,
): string {
  return join(cacheDir, "models", `synthetic-${spec.preset}-${spec.type}-seed${spec.seed}.gguf`);
}

/** Options of {@link ensureDefaultModel}. */
export interface EnsureDefaultModelOptions {
  /** Cache directory. Defaults to the user cache dir (env-paths "tokbench"). */
  readonly cacheDir?: string;
  /** Which model. Defaults to {@link DEFAULT_MODEL}. */
  readonly spec?: DefaultModelSpec;
  /** Progress of the first-use synthesis, for a display; the library prints nothing. Defaults to none. */
  readonly onProgress?: (progress: SynthProgress) => void;
  /**
   * Stops a first-use synthesis: nothing is left in the cache, and `RUN_INTERRUPTED` is thrown.
   * Defaults to none.
   */
  readonly signal?: AbortSignal;
}

/**
 * Returns the default model's path, synthesizing it on first use (a few seconds). Synthesis is
 * deterministic, so every machine benchmarks the same bytes; it writes through a temporary file and
 * never replaces a model another process finished first, so concurrent first runs are safe.
 */
export async function ensureDefaultModel(
  options: EnsureDefaultModelOptions = {},
): Promise<{ path: string; created: boolean }> {
  const spec = options.spec ?? DEFAULT_MODEL;
  const path = defaultModelPath(options.cacheDir, spec);
  try {
    if ((await stat(path)).size > 0) return { path, created: false };
  } catch {
    // Not there yet.
  }
  await mkdir(join(path, ".."), { recursive: true });
  const { synthesizeModel } = await import("../synth/synthesizeModel.js");
  try {
    await synthesizeModel({
      preset: spec.preset,
      type: spec.type,
      seed: spec.seed,
      out: path,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    // Another tokbench finished the same deterministic file first: use it.
    if (isTokbenchError(error, "FILE_EXISTS")) return { path, created: false };
    throw error;
  }
  return { path, created: true };
}
