import {
  flashAttnWord,
  gpuLayerCount,
  longFlag,
  type ServerCommand,
  type ServerCommandInput,
  type ServerProvider,
} from "../ServerProvider.js";

const FLAGS: Readonly<Record<string, string>> = {
  ctx: "-c",
  parallel: "-np",
  threads: "-t",
  batch: "-b",
  ubatch: "-ub",
  cache_type_k: "-ctk",
  cache_type_v: "-ctv",
  flash_attn: "-fa",
  gpu_layers: "-ngl",
};

/**
 * llama.cpp's `llama-server`: `llama-server -m MODEL --host H --port P -c CTX -np PARALLEL ...`.
 * `-c` is the total KV context, split evenly across the `-np` slots. Ready when `GET /health`
 * answers 200 (503 while the model loads). OpenAI-compatible API under `/v1`.
 */
export const llamaServerProvider: ServerProvider = {
  name: "llama-server",
  launches_process: true,
  knob_names: { model: "-m", ...FLAGS },
  other_knobs: "--NAME VALUE (any llama-server long flag)",
  command(input: ServerCommandInput): ServerCommand {
    const argv = [...(input.program ?? ["llama-server"])];
    if (input.model !== null) argv.push("-m", input.model);
    argv.push("--host", input.host, "--port", String(input.port));
    for (const [name, value] of Object.entries(input.knobs)) {
      const flag = FLAGS[name];
      if (flag === undefined) argv.push(...longFlag(name, value));
      else if (name === "flash_attn") argv.push(flag, flashAttnWord(value));
      else if (name === "gpu_layers") argv.push(flag, String(gpuLayerCount(value, input.model_layers)));
      else argv.push(flag, String(value));
    }
    return { argv, env: {}, ready_path: "/health", api: "openai", request_options: {} };
  },
};
