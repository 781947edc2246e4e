import {
  longFlag,
  type ServerCommand,
  type ServerCommandInput,
  type ServerProvider,
  unsupportedKnob,
} from "../ServerProvider.js";

const FLAGS: Readonly<Record<string, string>> = {
  ctx: "--context-length",
  parallel: "--max-running-requests",
  batch: "--chunked-prefill-size",
  cache_type_k: "--kv-cache-dtype",
};

/**
 * SGLang: `python3 -m sglang.launch_server --model-path MODEL --host H --port P
 * --context-length CTX --max-running-requests PARALLEL ...`. Other knobs pass through as long
 * flags, e.g. `--knob mem-fraction-static=0.8,0.9`. Ready when `GET /health` answers 200.
 */
export const sglangProvider: ServerProvider = {
  name: "sglang",
  launches_process: true,
  knob_names: FLAGS,
  other_knobs: "--NAME VALUE (any sglang.launch_server flag, e.g. mem-fraction-static)",
  command(input: ServerCommandInput): ServerCommand {
    const argv = [...(input.program ?? ["python3", "-m", "sglang.launch_server"])];
    if (input.model !== null) argv.push("--model-path", input.model);
    argv.push("--host", input.host, "--port", String(input.port));
    for (const [name, value] of Object.entries(input.knobs)) {
      const flag = FLAGS[name];
      if (flag !== undefined) argv.push(flag, String(value));
      else if (["threads", "ubatch", "cache_type_v", "flash_attn", "gpu_layers"].includes(name))
        throw unsupportedKnob("sglang", name);
      else argv.push(...longFlag(name, value));
    }
    return { argv, env: {}, ready_path: "/health", api: "openai", request_options: {} };
  },
};
