import {
  longFlag,
  type ServerCommand,
  type ServerCommandInput,
  type ServerProvider,
  unsupportedKnob,
} from "../ServerProvider.js";

const FLAGS: Readonly<Record<string, string>> = {
  parallel: "--decode-concurrency",
  batch: "--prefill-step-size",
};

/**
 * Apple's `mlx_lm.server --model MODEL --host H --port P`: `parallel` is its
 * `--decode-concurrency` (requests decoded together), `batch` its `--prefill-step-size`. It has
 * no context-size flag. Other knobs pass through as long flags (`prompt-concurrency`,
 * `prompt-cache-size`). Ready when `GET /health` answers 200.
 */
export const mlxLmProvider: ServerProvider = {
  name: "mlx-lm",
  launches_process: true,
  knob_names: FLAGS,
  other_knobs: "--NAME VALUE (any mlx_lm.server flag, e.g. prompt-concurrency)",
  command(input: ServerCommandInput): ServerCommand {
    const argv = [...(input.program ?? ["mlx_lm.server"])];
    if (input.model !== null) argv.push("--model", input.model);
    argv.push("--host", input.host, "--port", String(input.port));
    for (const [name, value] of Object.entries(input.knobs)) {
      const flag = FLAGS[name];
      if (flag !== undefined) argv.push(flag, String(value));
      else if (
        ["ctx", "threads", "ubatch", "cache_type_k", "cache_type_v", "flash_attn", "gpu_layers"].includes(
          name,
        )
      )
        throw unsupportedKnob("mlx-lm", name);
      else argv.push(...longFlag(name, value));
    }
    return { argv, env: {}, ready_path: "/health", api: "openai", request_options: {} };
  },
};
