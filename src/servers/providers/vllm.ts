import { flagMappedProvider } from "./flagMappedProvider.js";

/**
 * vLLM: `vllm serve MODEL --host H --port P --max-model-len CTX --max-num-seqs PARALLEL ...`
 * (`ctx`: the longest sequence; `parallel`: sequences scheduled together; `batch`: tokens per
 * scheduler step; `cache_type_k`: the one KV cache dtype). Other knobs pass through as long flags,
 * e.g. `--knob gpu-memory-utilization=0.8,0.9`. Ready when `GET /health` answers 200.
 */
export const vllmProvider = flagMappedProvider({
  name: "vllm",
  flags: {
    ctx: "--max-model-len",
    parallel: "--max-num-seqs",
    batch: "--max-num-batched-tokens",
    cache_type_k: "--kv-cache-dtype",
  },
  other_knobs: "--NAME VALUE (any vllm serve flag, e.g. gpu-memory-utilization)",
  // `serve` follows a program of the user's too: it is vLLM's subcommand, not part of the program.
  head: (program, model) => [...(program ?? ["vllm"]), "serve", ...(model === null ? [] : [model])],
});
