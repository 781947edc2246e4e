import { type InspectedModelFile, inspectModelFile } from "../engine/loadEngineModel.js";
import { type ModelMemoryFacts, modelMemoryFacts } from "../gguf/estimateModelMemory.js";
import type { AxisValue } from "../search/Axis.js";
import { checkMemoryFit, type FitCheck } from "../servers/checkMemoryFit.js";
import { gpuLayerCount } from "../servers/ServerProvider.js";
import { type AvailableMemory, availableMemory } from "../system/availableMemory.js";
import type { SweepSpec } from "./SweepSpec.js";

/** The memory pre-check of a sweep, with the facts it needs read once. */
export interface MemoryPrecheck {
  /** The verdict for one configuration; null when it cannot be estimated (no GGUF model, a server that manages GPU memory itself). */
  check(knobs: Readonly<Record<string, AxisValue>>): Promise<FitCheck | null>;
  /** A model file's layer count, when it is a GGUF (for GPU-layer percentages). */
  layers(model: string | null): number | null;
  /** A model file as the pre-check parsed it, for the embedded launcher to use instead of parsing it again; null when it was not read. */
  file(model: string): InspectedModelFile | null;
}

/**
 * Prepares the pre-check: reads each model file's memory facts once (GGUF header only). The
 * providers that allocate from the GGUF's shape (llama-server, the embedded engine, a template
 * with a GGUF `{model}`) are checked; vLLM and SGLang size their KV cache from a GPU-memory
 * fraction and Ollama loads from its own store, so they are not.
 *
 * The KV cells of a configuration: its `ctx` (llama-server's `-c`, the total over slots); without
 * one, the model's training context for a server (llama-server's default `-c 0`) and what the
 * workload needs per sequence times `parallel` for the embedded engine.
 */
export async function prepareMemoryPrecheck(
  spec: SweepSpec,
  options: { available?: (gpus: boolean) => Promise<AvailableMemory> } = {},
): Promise<MemoryPrecheck> {
  const facts = new Map<
    string,
    { facts: ModelMemoryFacts; context: number | null; file: InspectedModelFile } | null
  >();
  const models = spec.knob_axes.find((a) => a.name === "model")?.values ?? [];
  const applies =
    spec.provider === "llama-server" || spec.provider === "embedded" || spec.provider === "template";
  if (applies) {
    for (const model of models) {
      try {
        const file = await inspectModelFile(String(model));
        facts.set(String(model), {
          facts: modelMemoryFacts(file.inspection),
          context: file.inspection.hyperparameters.context_length,
          file,
        });
      } catch {
        facts.set(String(model), null);
      }
    }
  }
  const read = options.available ?? ((gpus: boolean) => availableMemory({ gpus }));
  const perSequence =
    Math.ceil((Math.max(...spec.workload.prompt_tokens) + Math.max(...spec.workload.max_tokens) + 64) / 256) *
    256;
  return {
    layers(model) {
      return model === null ? null : (facts.get(model)?.facts.n_layer ?? null);
    },
    file(model) {
      return facts.get(model)?.file ?? null;
    },
    async check(knobs) {
      const model = knobs.model === undefined ? null : String(knobs.model);
      const entry = model === null ? null : facts.get(model);
      if (entry === null || entry === undefined) return null;
      const num = (name: string, fallback: number) =>
        knobs[name] === undefined ? fallback : Number(knobs[name]);
      const parallel = num("parallel", 1);
      const cells =
        knobs.ctx !== undefined
          ? Number(knobs.ctx)
          : spec.provider === "embedded"
            ? perSequence * parallel
            : (entry.context ?? 4096);
      const gpuLayers =
        knobs.gpu_layers === undefined ? 0 : gpuLayerCount(knobs.gpu_layers, entry.facts.n_layer);
      const available = await read(gpuLayers > 0);
      return checkMemoryFit(
        entry.facts,
        {
          kv_cells: cells,
          type_k: String(knobs.cache_type_k ?? "f16"),
          type_v: String(knobs.cache_type_v ?? "f16"),
          ubatch_size: Math.min(num("ubatch", 512), num("batch", 2048)),
          gpu_layers: gpuLayers,
        },
        available,
        spec.memory_budget_bytes,
      );
    },
  };
}
