import { GgmlType, InsufficientMemoryError, type LlamaContext, type LlamaModel } from "node-llama-cpp";
import { TokbenchError } from "../errors/TokbenchError.js";
import { type EngineBinding, firstLine } from "./EngineBinding.js";
import type { KvCacheType } from "./knobValues.js";

/** Settings of one llama.cpp context, in llama-bench's terms. */
export interface EngineContextSettings {
  /** Threads for generation and for prompt processing. */
  threads: number;
  /** Logical batch (`n_batch`): the most tokens handed to one decode call. */
  batch_size: number;
  /**
   * Physical batch (`n_ubatch`). node-llama-cpp queues batches on the JS side and always sets
   * `n_ubatch = n_batch`, so the context is created with a batch of min(batch, ubatch) and prompts
   * are fed in chunks of that size: the same decode calls llama.cpp would make.
   */
  ubatch_size: number;
  /** KV-cache cells per sequence. */
  ctx_size: number;
  flash_attn: boolean | "auto";
  type_k: KvCacheType;
  type_v: KvCacheType;
  /** Sequences (parallel streams) in the context. */
  parallel: number;
}

/** The batch size the context is really created with (see {@link EngineContextSettings.ubatch_size}). */
export function effectiveBatchSize(
  settings: Pick<EngineContextSettings, "batch_size" | "ubatch_size" | "ctx_size">,
): number {
  return Math.max(1, Math.min(settings.batch_size, settings.ubatch_size, settings.ctx_size));
}

function ggmlType(type: KvCacheType): GgmlType {
  return GgmlType[type.toUpperCase() as keyof typeof GgmlType];
}

/**
 * Creates a context with llama.cpp's performance counters on and threads fixed. Throws
 * ENGINE_OUT_OF_MEMORY when it cannot be allocated and ENGINE_LOAD_FAILED otherwise, with the reason
 * llama.cpp logged (for example "quantized V cache requires flash_attn").
 */
export async function createEngineContext(
  binding: EngineBinding,
  model: LlamaModel,
  settings: EngineContextSettings,
): Promise<LlamaContext> {
  binding.takeWarnings();
  try {
    return await model.createContext({
      contextSize: settings.ctx_size,
      batchSize: effectiveBatchSize(settings),
      threads: settings.threads,
      sequences: settings.parallel,
      flashAttention: settings.flash_attn,
      experimentalKvCacheKeyType: ggmlType(settings.type_k),
      experimentalKvCacheValueType: ggmlType(settings.type_v),
      performanceTracking: true,
      failedCreationRemedy: false,
      // Sequences submitted in the same turn are batched together; "nextCycle" waits one event-loop
      // turn for them, which a single stream pays on every token.
      batching: settings.parallel === 1 ? { dispatchSchedule: (dispatch) => dispatch() } : {},
    });
  } catch (cause) {
    const logged = binding.takeWarnings().filter((w) => !w.startsWith("Failed simulating"));
    const reason = [firstLine(cause), ...logged.slice(-1)].filter((s) => s !== "").join("; ");
    const oom = cause instanceof InsufficientMemoryError || /out of memory|failed to allocate/i.test(reason);
    throw new TokbenchError(
      oom ? "ENGINE_OUT_OF_MEMORY" : "ENGINE_LOAD_FAILED",
      `cannot create a context (ctx ${settings.ctx_size} x ${settings.parallel}, batch ${effectiveBatchSize(settings)}, type_k ${settings.type_k}, type_v ${settings.type_v}, fa ${String(settings.flash_attn)}): ${reason}`,
      { cause },
    );
  }
}
