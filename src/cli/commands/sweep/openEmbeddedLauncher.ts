import { EngineBinding } from "../../../engine/EngineBinding.js";
import { isEngineEnvApplied } from "../../../engine/native/engineProcessEnv.js";
import { getTunedLlama } from "../../../engine/native/getTunedLlama.js";
import type { ConfigurationLauncher } from "../../../sweep/ConfigurationLauncher.js";
import { type EmbeddedLauncherOptions, embeddedLauncher } from "../../../sweep/embeddedLauncher.js";
import type { SweepSpec } from "../../../sweep/SweepSpec.js";

/**
 * The embedded engine's launcher: the tuned local llama.cpp build when there is one, else the
 * prebuilt binary. The tuned build needs a process started with the engine's environment
 * (docs/engine-speed.md): when this one was not, it answers `relaunch` and the caller runs
 * tokbench again with it, as `tokbench bench` does.
 */
export async function openEmbeddedLauncher(
  spec: SweepSpec,
  parsed?: EmbeddedLauncherOptions["parsed"],
): Promise<ConfigurationLauncher | "relaunch"> {
  const tuned = await getTunedLlama({ gpu: "auto" });
  if (tuned.build === "native" && !isEngineEnvApplied()) {
    await tuned.llama.dispose();
    return "relaunch";
  }
  const binding = EngineBinding.fromLlama(tuned.llama);
  const launcher = embeddedLauncher({
    binding,
    spec,
    default_threads: tuned.defaultThreads,
    ...(parsed === undefined ? {} : { parsed }),
  });
  return {
    launch: (knobs, signal) => launcher.launch(knobs, signal),
    async close() {
      await launcher.close();
      await tuned.llama.dispose();
    },
  };
}
