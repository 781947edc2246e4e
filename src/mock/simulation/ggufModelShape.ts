import { inspectModel } from "../../gguf/inspectModel.js";
import type { SimulationOptions } from "./SimulationConfig.js";

/**
 * The model-shape options of a simulation taken from a real GGUF file, so that `mock --simulate -m
 * model.gguf` sizes its weights and KV cache like llama-server would for that file: weights are the
 * tensor bytes, the KV cache per token is the file's K + V width over all layers at f16, and the
 * layer count bounds `--n-gpu-layers`. Reads the header only. Throws the GGUF_* errors of
 * {@link inspectModel} for a file that is missing or not a GGUF.
 */
export async function ggufModelShape(
  path: string,
): Promise<Required<Pick<SimulationOptions, "modelSizeMiB" | "kvBytesPerToken" | "layers">>> {
  const model = await inspectModel(path, { kvType: "f16" });
  return {
    modelSizeMiB: model.tensor_bytes / (1024 * 1024),
    // A model without attention (none here) would have no KV cache; keep the simulation valid.
    kvBytesPerToken: Math.max(1, model.kv_cache.bytes_per_token),
    layers: Math.max(1, model.hyperparameters.block_count ?? 1),
  };
}
