import type { EngineBinding } from "../engine/EngineBinding.js";
import type { KvCacheType } from "../engine/knobValues.js";
import {
  type InspectedModelFile,
  inspectModelFile,
  type LoadedEngineModel,
  loadEngineModel,
} from "../engine/loadEngineModel.js";
import { isTokbenchError } from "../errors/TokbenchError.js";
import type { AxisValue } from "../search/Axis.js";
import { embeddedProvider } from "../servers/providers/embedded.js";
import { ServerLaunchError } from "../servers/ServerProcess.js";
import { EmbeddedTarget } from "../targets/embedded/EmbeddedTarget.js";
import type { ConfigurationLauncher, RunningConfiguration } from "./ConfigurationLauncher.js";
import type { SweepSpec } from "./SweepSpec.js";

/** Options of {@link embeddedLauncher}. */
export interface EmbeddedLauncherOptions {
  binding: EngineBinding;
  spec: SweepSpec;
  /** Threads when the sweep does not set them. */
  default_threads: number;
  /**
   * A model file already parsed (by the memory pre-check), so each file is parsed once a sweep;
   * null, or no function, when it was not. Defaults to none.
   */
  parsed?: (path: string) => InspectedModelFile | null;
}

/**
 * "Launches" configurations of the embedded engine: loads the model (kept loaded while the next
 * configuration uses the same file and GPU layers) and creates a context with the configuration's
 * knobs. A context or model that does not fit is an `oom` failure, as for a server.
 */
export function embeddedLauncher(options: EmbeddedLauncherOptions): ConfigurationLauncher {
  const { binding, spec } = options;
  const files = new Map<string, InspectedModelFile>();
  let loaded: { key: string; model: LoadedEngineModel } | null = null;
  // Without a ctx knob each sequence gets what the largest request needs (prompt + output + margin).
  const neededPerSequence =
    Math.ceil((Math.max(...spec.workload.prompt_tokens) + Math.max(...spec.workload.max_tokens) + 64) / 256) *
    256;

  const fail = (error: unknown): never => {
    const message = error instanceof Error ? error.message : String(error);
    throw new ServerLaunchError({
      class: isTokbenchError(error, "ENGINE_OUT_OF_MEMORY") ? "oom" : "crash",
      message,
      exit: null,
      log_tail: [message],
      log_path: null,
    });
  };

  return {
    async launch(knobs: Readonly<Record<string, AxisValue>>): Promise<RunningConfiguration> {
      const path = knobs.model === undefined ? spec.model : String(knobs.model);
      if (path === null)
        throw new ServerLaunchError({
          class: "bad_args",
          message: "no model file",
          exit: null,
          log_tail: [],
          log_path: null,
        });
      let file = files.get(path);
      if (file === undefined) {
        file = options.parsed?.(path) ?? (await inspectModelFile(path));
        files.set(path, file);
      }
      const config = embeddedProvider.configuration(knobs, file.info.n_layer);
      const key = `${path}\u0000${config.gpu_layers}`;
      if (loaded?.key !== key) {
        await loaded?.model.model.dispose();
        loaded = null;
        try {
          loaded = { key, model: await loadEngineModel(binding, file, { gpuLayers: config.gpu_layers }) };
        } catch (error) {
          fail(error);
        }
      }
      const model = (loaded as { model: LoadedEngineModel }).model;
      let target: EmbeddedTarget;
      try {
        target = await EmbeddedTarget.create({
          binding,
          model: model.model,
          context: {
            threads: config.threads ?? options.default_threads,
            batch_size: config.batch_size ?? 2048,
            ubatch_size: config.ubatch_size ?? 512,
            ctx_size: config.ctx_per_sequence ?? neededPerSequence,
            flash_attn: config.flash_attn,
            type_k: config.type_k as KvCacheType,
            type_v: config.type_v as KvCacheType,
            parallel: config.parallel,
          },
        });
      } catch (error) {
        return fail(error);
      }
      return {
        target,
        log_path: null,
        url: null,
        argv: null,
        died: () => null,
        death: new Promise(() => {}),
        async stop() {
          await target.close();
        },
      };
    },
    async close() {
      await loaded?.model.model.dispose();
      loaded = null;
    },
  };
}
