/** The values of the engine knobs that are not plain numbers, as the engine takes them. */

/** GPU layers to offload: an absolute layer count, or a share of the model's layers. */
export type GpuLayersSpec = { layers: number } | { percent: number };

/** KV-cache element types llama.cpp accepts for `--cache-type-k` / `--cache-type-v` (as llama-bench). */
export const KV_CACHE_TYPES = [
  "f32",
  "f16",
  "bf16",
  "q8_0",
  "q4_0",
  "q4_1",
  "iq4_nl",
  "q5_0",
  "q5_1",
] as const;
export type KvCacheType = (typeof KV_CACHE_TYPES)[number];
