import { TokbenchError } from "../../errors/TokbenchError.js";

/** KV-cache element types the simulated server accepts (llama-server's `--cache-type-k/-v`). */
export const SIM_KV_TYPES = ["f16", "q8_0", "q4_0"] as const;
export type SimKvType = (typeof SIM_KV_TYPES)[number];

/** llama-server's `--flash-attn` values. */
export const SIM_FLASH_ATTN = ["on", "off", "auto"] as const;
export type SimFlashAttn = (typeof SIM_FLASH_ATTN)[number];

/**
 * Bytes of a KV element of each type relative to f16: q8_0 stores 32 values in 34 bytes, q4_0 in
 * 18 bytes, against 64 bytes at f16 (ggml's block layouts).
 */
export const KV_TYPE_BYTES_VS_F16: Readonly<Record<SimKvType, number>> = {
  f16: 1,
  q8_0: 34 / 64,
  q4_0: 18 / 64,
};

/**
 * Knobs, model shape, machine and speed of the simulated llama-server (`tokbench mock --simulate`).
 * A test double: every figure it produces comes from the model in `speedModel.ts` and
 * `memoryModel.ts`, never from a measurement.
 */
export interface SimulationOptions {
  /** Total KV context in tokens (llama-server `-c`), split evenly across the slots. Defaults to 4096. */
  ctxSize?: number;
  /** Slots: sequences decoded together (llama-server `-np`). Defaults to 1. */
  parallel?: number;
  /** CPU threads (llama-server `-t`); the fastest is the simulated machine's `cores`. Defaults to `cores`. */
  threads?: number;
  /** Logical batch: most tokens one iteration takes (llama-server `-b`). Defaults to 2048. */
  batchSize?: number;
  /** Physical batch: tokens per compute pass, at most `batchSize` (llama-server `-ub`). Defaults to 512. */
  ubatchSize?: number;
  /** K cache type. Defaults to "f16". */
  cacheTypeK?: SimKvType;
  /** V cache type; a quantized V cache needs flash attention, as in llama.cpp. Defaults to "f16". */
  cacheTypeV?: SimKvType;
  /** Flash attention; `auto` turns it on, as llama.cpp does on CPU. Defaults to "auto". */
  flashAttn?: SimFlashAttn;
  /** Layers offloaded to a (simulated) GPU; -1 or more than `layers` means all. Defaults to 0. */
  nGpuLayers?: number;
  /** Weights in MiB. Defaults to 400 (qwen2.5-0.5b at Q4-ish). */
  modelSizeMiB?: number;
  /** KV bytes per token of one sequence, all layers, at f16. Defaults to 12288 (qwen2.5-0.5b). */
  kvBytesPerToken?: number;
  /** Transformer layers (for `nGpuLayers`). Defaults to 24. */
  layers?: number;
  /** Memory for weights + KV + buffers, in MiB; null for no limit. Defaults to null. */
  memoryBudgetMiB?: number | null;
  /** Compute buffer of each active sequence, counted while it holds a slot, in MiB. Defaults to 0. */
  seqBufferMiB?: number;
  /** Compute buffer allocated at start-up at `ubatchSize` 512, in MiB (scales with the ubatch). Defaults to 0. */
  computeBufferMiB?: number;
  /** Cores of the simulated machine: where the thread optimum lies. Defaults to 8. */
  cores?: number;
  /** Prompt processing of one sequence alone at the default knobs, tokens/s. Defaults to 300. */
  prefillTps?: number;
  /** Decode of one sequence alone at the default knobs, tokens/s; below `prefillTps`. Defaults to 30. */
  decodeTps?: number;
  /** Relative noise on iteration times (e.g. 0.1 for about 10 %), seeded. Defaults to 0. */
  noise?: number;
  /** Seed of the noise. Defaults to 1. */
  seed?: number;
  /** Start-up time (model load) before `/health` answers 200, ms. Defaults to 300. */
  startupMs?: number;
}

/** {@link SimulationOptions} checked and completed with their defaults. */
export interface SimulationConfig {
  /** `--ctx-size` as given. */
  readonly ctxSize: number;
  /** KV cells allocated: `slotContext × parallel` (llama.cpp's `n_ctx` after padding). */
  readonly contextTokens: number;
  readonly parallel: number;
  /**
   * Context of each slot, as llama.cpp splits it: the context rounded up to a multiple of 256, divided
   * by the slots, rounded up to 256 again (4096 over 4 slots: 1024 each; 4096 over 3: 1536 each).
   */
  readonly slotContext: number;
  /** `--batch-size`, at most the context, as llama.cpp caps it. */
  readonly batchSize: number;
  readonly threads: number;
  readonly ubatchSize: number;
  /** `min(ubatchSize, batchSize)`: llama.cpp never runs a physical batch larger than the logical one. */
  readonly effectiveUbatch: number;
  readonly cacheTypeK: SimKvType;
  readonly cacheTypeV: SimKvType;
  readonly flashAttn: SimFlashAttn;
  /** Whether flash attention is in use (`auto` resolves to on). */
  readonly flashAttnOn: boolean;
  readonly nGpuLayers: number;
  /** Share of the layers offloaded, 0..1. */
  readonly gpuShare: number;
  readonly modelSizeMiB: number;
  readonly kvBytesPerToken: number;
  readonly layers: number;
  readonly memoryBudgetMiB: number | null;
  readonly seqBufferMiB: number;
  readonly computeBufferMiB: number;
  readonly cores: number;
  readonly prefillTps: number;
  readonly decodeTps: number;
  readonly noise: number;
  readonly seed: number;
  readonly startupMs: number;
}

/**
 * Checks the options and fills in defaults. Throws `INVALID_ARGUMENT` naming the llama-server flag
 * for a value llama-server would refuse too (a zero context, a batch below 1) and for speeds that no
 * machine has (decode at least as fast as prefill).
 */
export function resolveSimulation(options: SimulationOptions = {}): SimulationConfig {
  const cores = integer("cores", options.cores ?? 8, 1);
  const ctxSize = integer("ctx-size", options.ctxSize ?? 4096, 1);
  const parallel = integer("parallel", options.parallel ?? 1, 1);
  // llama.cpp pads the context to 256 tokens, then each slot's share to 256 again.
  const slotContext = pad256(Math.floor(pad256(ctxSize) / parallel));
  const threads = integer("threads", options.threads ?? cores, 1);
  // llama.cpp never takes a logical batch longer than the context.
  const batchSize = Math.min(integer("batch-size", options.batchSize ?? 2048, 1), slotContext * parallel);
  const ubatchSize = integer("ubatch-size", options.ubatchSize ?? 512, 1);
  const cacheTypeK = options.cacheTypeK ?? "f16";
  const cacheTypeV = options.cacheTypeV ?? "f16";
  for (const [flag, t] of [
    ["cache-type-k", cacheTypeK],
    ["cache-type-v", cacheTypeV],
  ] as const) {
    if (!SIM_KV_TYPES.includes(t))
      invalid(`--${flag} must be one of ${SIM_KV_TYPES.join(", ")} (got "${t}")`);
  }
  const flashAttn = options.flashAttn ?? "auto";
  if (!SIM_FLASH_ATTN.includes(flashAttn))
    invalid(`--flash-attn must be one of ${SIM_FLASH_ATTN.join(", ")} (got "${flashAttn}")`);
  const layers = integer("layers", options.layers ?? 24, 1);
  const nGpuLayers = integer("n-gpu-layers", options.nGpuLayers ?? 0, -1);
  const prefillTps = positive("prefill-tps", options.prefillTps ?? 300);
  const decodeTps = positive("decode-tps", options.decodeTps ?? 30);
  if (decodeTps >= prefillTps)
    invalid(`--decode-tps (${decodeTps}) must be below --prefill-tps (${prefillTps}), as on any machine`);
  const budget = options.memoryBudgetMiB ?? null;
  return {
    ctxSize,
    contextTokens: slotContext * parallel,
    parallel,
    slotContext,
    threads,
    batchSize,
    ubatchSize,
    effectiveUbatch: Math.min(ubatchSize, batchSize),
    cacheTypeK,
    cacheTypeV,
    flashAttn,
    flashAttnOn: flashAttn !== "off",
    nGpuLayers,
    gpuShare: nGpuLayers < 0 ? 1 : Math.min(nGpuLayers, layers) / layers,
    modelSizeMiB: positive("model-size-mib", options.modelSizeMiB ?? 400),
    kvBytesPerToken: positive("kv-bytes-per-token", options.kvBytesPerToken ?? 12288),
    layers,
    memoryBudgetMiB: budget === null ? null : positive("memory-budget-mib", budget),
    seqBufferMiB: nonNegative("seq-buffer-mib", options.seqBufferMiB ?? 0),
    computeBufferMiB: nonNegative("compute-buffer-mib", options.computeBufferMiB ?? 0),
    cores,
    prefillTps,
    decodeTps,
    noise: nonNegative("noise", options.noise ?? 0),
    seed: Math.trunc(options.seed ?? 1),
    startupMs: nonNegative("startup-ms", options.startupMs ?? 300),
  };
}

function pad256(n: number): number {
  return Math.ceil(n / 256) * 256;
}

function integer(flag: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min)
    invalid(`--${flag} must be an integer >= ${min} (got ${value})`);
  return value;
}

function positive(flag: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) invalid(`--${flag} must be a number > 0 (got ${value})`);
  return value;
}

function nonNegative(flag: string, value: number): number {
  if (!(Number.isFinite(value) && value >= 0)) invalid(`--${flag} must be a number >= 0 (got ${value})`);
  return value;
}

function invalid(message: string): never {
  throw new TokbenchError("INVALID_ARGUMENT", `simulated server: ${message}`);
}
