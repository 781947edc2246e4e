import {
  estimateModelMemory,
  type MemoryEstimate,
  type ModelMemoryFacts,
} from "../gguf/estimateModelMemory.js";
import { formatBytes } from "../output/units.js";
import type { AvailableMemory } from "../system/availableMemory.js";

/** The part of a configuration that decides its memory. */
export interface FitInput {
  /** KV cells in all (llama-server's `-c`; for the embedded engine too). */
  kv_cells: number;
  type_k: string;
  type_v: string;
  ubatch_size: number;
  /** Layers offloaded to a GPU (0: everything in RAM). */
  gpu_layers: number;
}

/** The verdict of the memory pre-check. */
export interface FitCheck {
  fits: boolean;
  estimate: MemoryEstimate;
  /** What the estimate was compared with, in bytes. */
  available_bytes: number;
  /** Where that figure comes from. */
  available_source: "budget" | "ram" | "ram+gpu";
  /** Why it cannot fit, in one line; null when it fits. */
  reason: string | null;
}

/**
 * The pre-check before a launch: the memory estimate of the model lab (`estimateModelMemory`:
 * weights, KV cache for the configuration's cells and KV types, one batch of buffers) against a
 * budget the user set, else against available RAM, plus the free memory of the GPUs when layers
 * are offloaded. The estimate is a lower bound, so "does not fit" is certain and "fits" is not: a
 * configuration that passes may still run out of memory, which the launch then classifies.
 */
export function checkMemoryFit(
  facts: ModelMemoryFacts,
  input: FitInput,
  available: AvailableMemory,
  budgetBytes: number | null,
): FitCheck {
  const estimate = estimateModelMemory(facts, {
    kv_cells: input.kv_cells,
    type_k: input.type_k,
    type_v: input.type_v,
    ubatch_size: input.ubatch_size,
  });
  const gpu = input.gpu_layers > 0 ? available.gpu_free_bytes.reduce((a, b) => a + b, 0) : 0;
  const source: FitCheck["available_source"] = budgetBytes !== null ? "budget" : gpu > 0 ? "ram+gpu" : "ram";
  const availableBytes = budgetBytes ?? available.ram_bytes + gpu;
  const fits = estimate.total_bytes <= availableBytes;
  return {
    fits,
    estimate,
    available_bytes: availableBytes,
    available_source: source,
    reason: fits
      ? null
      : `needs at least ${formatBytes(estimate.total_bytes)} (weights ${formatBytes(estimate.weights_bytes)}, ` +
        `KV cache ${formatBytes(estimate.kv_cache_bytes)} for ${input.kv_cells} cells of ${input.type_k}/${input.type_v}), ` +
        `${formatBytes(availableBytes)} ${source === "budget" ? "in the memory budget" : "available"}`,
  };
}
