import { OllamaTarget } from "../targets/ollama/OllamaTarget.js";
import { OpenAiTarget } from "../targets/openai/OpenAiTarget.js";
import type { Target } from "../targets/Target.js";
import type { ConfigurationLauncher, RunningConfiguration } from "./ConfigurationLauncher.js";
import type { SweepSpec } from "./SweepSpec.js";

/**
 * A server that is already running (`tokbench sweep --url`): nothing is launched or stopped, the
 * sweep only varies the workload. Checks once that the server answers, so a wrong URL is one
 * `TARGET_UNREACHABLE` error rather than a sweep of failed cells.
 */
export function attachedLauncher(spec: SweepSpec & { url: string; model: string }): ConfigurationLauncher {
  return {
    async launch(): Promise<RunningConfiguration> {
      const timeoutMs = spec.request_timeout_s * 1000;
      const target: Target =
        spec.api === "ollama"
          ? new OllamaTarget({ baseUrl: spec.url, model: spec.model, timeoutMs })
          : new OpenAiTarget({ baseUrl: spec.url, model: spec.model, api: spec.api, timeoutMs });
      try {
        await target.assertReachable?.();
      } catch (error) {
        await target.close();
        throw error;
      }
      return {
        target,
        log_path: null,
        url: spec.url,
        argv: null,
        died: () => null,
        death: new Promise(() => {}),
        stop: () => target.close(),
      };
    },
    async close() {},
  };
}
