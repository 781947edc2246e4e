/**
 * The cmake options of tokbench's tuned local build of node-llama-cpp (see docs/engine-speed.md).
 *
 * - `GGML_OPENMP=ON`: ggml then runs its compute threads as an OpenMP team that persists between
 *   graph computations. The prebuilt binaries are built with OpenMP off, and node-llama-cpp never
 *   attaches a ggml threadpool to its contexts, so every `llama_decode` creates and joins fresh
 *   worker threads (one per extra thread, per decoded token); llama-bench attaches a persistent pool.
 * - `GGML_NATIVE=ON`: compile for this CPU (`-march=native`) like the llama-bench reference,
 *   instead of the closest prebuilt variant.
 *
 * The options are explicit (not left to node-llama-cpp's defaults) because they also name the build
 * folder: node-llama-cpp keys local builds by a hash of the custom options, so this build never
 * replaces the default binary that a plain `getLlama()` loads.
 */
export const TUNED_CMAKE_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  GGML_NATIVE: "ON",
  GGML_OPENMP: "ON",
});
