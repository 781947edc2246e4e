import { KV_TYPE_BYTES_VS_F16, type SimulationConfig } from "./SimulationConfig.js";

const MIB = 1024 * 1024;

/** What the simulated server allocates, in bytes (a test double's arithmetic, not a measurement). */
export interface SimMemory {
  /** Weights: `modelSizeMiB`. */
  weights_bytes: number;
  /** K and V for `contextTokens` cells at their cache types (llama.cpp allocates them all at start). */
  kv_bytes: number;
  /** Start-up compute buffer: `computeBufferMiB` × effective ubatch / 512. */
  compute_bytes: number;
  /** Compute buffer of one active sequence: `seqBufferMiB`. */
  seq_buffer_bytes: number;
  /** The budget, null for none. */
  budget_bytes: number | null;
}

/** Where start-up runs out of memory, in llama.cpp's order: weights, then KV cache, then compute buffers. */
export type StartupOom = { stage: "weights" | "kv" | "compute"; request_bytes: number } | null;

/** The allocations of a configuration. */
export function simMemory(config: SimulationConfig): SimMemory {
  const kvFactor = (KV_TYPE_BYTES_VS_F16[config.cacheTypeK] + KV_TYPE_BYTES_VS_F16[config.cacheTypeV]) / 2;
  return {
    weights_bytes: Math.round(config.modelSizeMiB * MIB),
    kv_bytes: Math.round(config.contextTokens * config.kvBytesPerToken * kvFactor),
    compute_bytes: Math.round((config.computeBufferMiB * MIB * config.effectiveUbatch) / 512),
    seq_buffer_bytes: Math.round(config.seqBufferMiB * MIB),
    budget_bytes: config.memoryBudgetMiB === null ? null : Math.round(config.memoryBudgetMiB * MIB),
  };
}

/** The first start-up allocation that does not fit, or null when weights + KV + compute buffer fit. */
export function startupOom(memory: SimMemory): StartupOom {
  const budget = memory.budget_bytes;
  if (budget === null) return null;
  if (memory.weights_bytes > budget) return { stage: "weights", request_bytes: memory.weights_bytes };
  if (memory.weights_bytes + memory.kv_bytes > budget) return { stage: "kv", request_bytes: memory.kv_bytes };
  if (memory.weights_bytes + memory.kv_bytes + memory.compute_bytes > budget)
    return { stage: "compute", request_bytes: memory.compute_bytes };
  return null;
}

/** Bytes in use with `active` sequences holding slots. */
export function bytesInUse(memory: SimMemory, active: number): number {
  return memory.weights_bytes + memory.kv_bytes + memory.compute_bytes + active * memory.seq_buffer_bytes;
}

/** Whether `active` sequences' buffers exceed the budget (the run-time out-of-memory). */
export function loadExceedsBudget(memory: SimMemory, active: number): boolean {
  return memory.budget_bytes !== null && bytesInUse(memory, active) > memory.budget_bytes;
}
