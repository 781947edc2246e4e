import { flagMappedProvider } from "./flagMappedProvider.js";

/**
 * Apple's `mlx_lm.server --model MODEL --host H --port P`: `parallel` is its
 * `--decode-concurrency` (requests decoded together), `batch` its `--prefill-step-size`. It has
 * no context-size flag. Other knobs pass through as long flags (`prompt-concurrency`,
 * `prompt-cache-size`). Ready when `GET /health` answers 200.
 */
export const mlxLmProvider = flagMappedProvider({
  name: "mlx-lm",
  flags: { parallel: "--decode-concurrency", batch: "--prefill-step-size" },
  other_knobs: "--NAME VALUE (any mlx_lm.server flag, e.g. prompt-concurrency)",
  head: (program, model) => [
    ...(program ?? ["mlx_lm.server"]),
    ...(model === null ? [] : ["--model", model]),
  ],
});
