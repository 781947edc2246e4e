import {
  longFlag,
  type ServerCommand,
  type ServerCommandInput,
  type ServerProvider,
  unsupportedKnob,
} from "../ServerProvider.js";

const FLAGS: Readonly<Record<string, string>> = {
  ctx: "--max-model-len",
  parallel: "--max-num-seqs",
  batch: "--max-num-batched-tokens",
  cache_type_k: "--kv-cache-dtype",
};

/**
 * vLLM: `vllm serve MODEL --host H --port P --max-model-len CTX --max-num-seqs PARALLEL ...`
 * (`ctx`: the longest sequence; `parallel`: sequences scheduled together; `batch`: tokens per
 * scheduler step; `cache_type_k`: the one KV cache dtype). Other knobs pass through as long flags,
 * e.g. `--knob gpu-memory-utilization=0.8,0.9`. Ready when `GET /health` answers 200.
 */
export const vllmProvider: ServerProvider = {
  name: "vllm",
  launches_process: true,
  knob_names: FLAGS,
  other_knobs: "--NAME VALUE (any vllm serve flag, e.g. gpu-memory-utilization)",
  command(input: ServerCommandInput): ServerCommand {
    const argv = [...(input.program ?? ["vllm"]), "serve"];
    if (input.model !== null) argv.push(input.model);
    argv.push("--host", input.host, "--port", String(input.port));
    for (const [name, value] of Object.entries(input.knobs)) {
      const flag = FLAGS[name];
      if (flag !== undefined) argv.push(flag, String(value));
      else if (["threads", "ubatch", "cache_type_v", "flash_attn", "gpu_layers"].includes(name))
        throw unsupportedKnob("vllm", name);
      else argv.push(...longFlag(name, value));
    }
    return { argv, env: {}, ready_path: "/health", api: "openai", request_options: {} };
  },
};
