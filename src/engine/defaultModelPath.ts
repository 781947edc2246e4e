import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import envPaths from "env-paths";

/** The synthetic model `tokbench bench` runs when no `--model` is given. */
export const DEFAULT_MODEL = { preset: "tiny", type: "q4_0", seed: 1 } as const;

/** Where the default model lives: `<user cache dir>/tokbench/models/`. */
export function defaultModelPath(cacheDir: string = envPaths("tokbench", { suffix: "" }).cache): string {
  return join(
    cacheDir,
    "models",
    `synthetic-${DEFAULT_MODEL.preset}-${DEFAULT_MODEL.type}-seed${DEFAULT_MODEL.seed}.gguf`,
  );
}

/**
 * Returns the default model's path, synthesizing it on first use (a few MB, under a second).
 * Synthesis is deterministic, so every machine benchmarks the same bytes.
 */
export async function ensureDefaultModel(cacheDir?: string): Promise<{ path: string; created: boolean }> {
  const path = defaultModelPath(cacheDir);
  try {
    if ((await stat(path)).size > 0) return { path, created: false };
  } catch {
    // Not there yet.
  }
  await mkdir(join(path, ".."), { recursive: true });
  const { synthesizeModel } = await import("../synth/synthesizeModel.js");
  await synthesizeModel({
    preset: DEFAULT_MODEL.preset,
    type: DEFAULT_MODEL.type,
    seed: DEFAULT_MODEL.seed,
    out: path,
  });
  return { path, created: true };
}
