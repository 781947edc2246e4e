import { basename, join } from "node:path";
import type { AxisValue } from "../search/Axis.js";
import { findFreePort } from "../servers/ports.js";
import { ServerLaunchError, ServerProcess } from "../servers/ServerProcess.js";
import type { ServerProvider } from "../servers/ServerProvider.js";
import { OllamaTarget } from "../targets/ollama/OllamaTarget.js";
import { OpenAiTarget } from "../targets/openai/OpenAiTarget.js";
import type { Target } from "../targets/Target.js";
import type { ConfigurationLauncher, RunningConfiguration } from "./ConfigurationLauncher.js";
import type { SweepSpec } from "./SweepSpec.js";

/** Options of {@link processLauncher}. */
export interface ProcessLauncherOptions {
  provider: ServerProvider;
  spec: SweepSpec;
  /** Folder for the launch logs. */
  log_dir: string;
  /** Prefix of the log file names (the sweep id). */
  log_prefix: string;
  /** Layer count of a model file, for GPU-layer percentages; null when unknown. */
  model_layers(model: string | null): number | null;
  /** Called with each launch's command line and log file, before it starts. Defaults to none. */
  on_launch?(argv: readonly string[], logPath: string): void;
}

const HOST = "127.0.0.1";

/**
 * Launches server processes: the provider's command line on a free port on 127.0.0.1, started and
 * stopped by `ServerProcess`; the target is the OpenAI-compatible or Ollama client on it. A port
 * another process took between choosing and binding it is retried once with another port.
 */
export function processLauncher(options: ProcessLauncherOptions): ConfigurationLauncher {
  const { provider, spec } = options;
  let launches = 0;
  return {
    async launch(
      knobs: Readonly<Record<string, AxisValue>>,
      signal: AbortSignal,
    ): Promise<RunningConfiguration> {
      const { model: modelKnob, ...rest } = knobs;
      const model = modelKnob === undefined ? spec.model : String(modelKnob);
      for (let attempt = 0; ; attempt++) {
        const port = await findFreePort(HOST);
        const command = provider.command({
          program: spec.program,
          model,
          host: HOST,
          port,
          knobs: rest,
          model_layers: options.model_layers(modelKnob === undefined ? null : String(modelKnob)),
        });
        const logPath = join(options.log_dir, `${options.log_prefix}-launch${++launches}.log`);
        options.on_launch?.(command.argv, logPath);
        let server: ServerProcess;
        try {
          server = await ServerProcess.start(
            {
              argv: command.argv,
              env: command.env,
              host: HOST,
              port,
              ready_path: spec.ready_path ?? command.ready_path,
              log_path: logPath,
              ready_timeout_ms: spec.ready_timeout_s * 1000,
              stop_grace_ms: spec.stop_grace_s * 1000,
              memory_limit_bytes: spec.server_memory_limit_bytes,
            },
            { signal },
          );
        } catch (error) {
          if (error instanceof ServerLaunchError && error.failure.class === "port_in_use" && attempt === 0)
            continue;
          throw error;
        }
        const name = spec.model ?? (modelKnob === undefined ? "model" : basename(String(modelKnob)));
        const timeoutMs = spec.request_timeout_s * 1000;
        const target: Target =
          command.api === "ollama"
            ? new OllamaTarget({
                baseUrl: server.url,
                model: name,
                timeoutMs,
                modelOptions: command.request_options,
              })
            : new OpenAiTarget({
                baseUrl: `${server.url}/v1`,
                model: name,
                api: spec.api === "completions" ? "completions" : "chat",
                timeoutMs,
              });
        return {
          target,
          log_path: logPath,
          url: server.url,
          argv: command.argv,
          died: () =>
            server.exit !== null && !server.exit.stopped_by_tokbench ? server.failure("serve") : null,
          death: server.whenExited().then(() => undefined),
          async stop() {
            await target.close();
            await server.stop();
          },
        };
      }
    },
    async close() {},
  };
}
