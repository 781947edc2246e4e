import { flagMappedProvider } from "./flagMappedProvider.js";

/**
 * SGLang: `python3 -m sglang.launch_server --model-path MODEL --host H --port P
 * --context-length CTX --max-running-requests PARALLEL ...`. Other knobs pass through as long
 * flags, e.g. `--knob mem-fraction-static=0.8,0.9`. Ready when `GET /health` answers 200.
 */
export const sglangProvider = flagMappedProvider({
  name: "sglang",
  flags: {
    ctx: "--context-length",
    parallel: "--max-running-requests",
    batch: "--chunked-prefill-size",
    cache_type_k: "--kv-cache-dtype",
  },
  other_knobs: "--NAME VALUE (any sglang.launch_server flag, e.g. mem-fraction-static)",
  head: (program, model) => [
    ...(program ?? ["python3", "-m", "sglang.launch_server"]),
    ...(model === null ? [] : ["--model-path", model]),
  ],
});
