import { TokbenchError } from "../../errors/TokbenchError.js";
import type { AxisValue } from "../../search/Axis.js";
import {
  flashAttnWord,
  gpuLayerCount,
  type KnobValues,
  type ServerProvider,
  unsupportedKnob,
} from "../ServerProvider.js";

/** The context of one embedded configuration, in llama.cpp's terms (llama-server's meaning of `ctx`). */
export interface EmbeddedConfiguration {
  /** KV cells per sequence: `ctx / parallel`, as llama-server splits `-c` across its slots; null when no `ctx` was given. */
  ctx_per_sequence: number | null;
  parallel: number;
  threads: number | null;
  batch_size: number | null;
  ubatch_size: number | null;
  type_k: string;
  type_v: string;
  flash_attn: boolean | "auto";
  gpu_layers: number;
}

function numberKnob(knobs: KnobValues, name: string): number | null {
  const value: AxisValue | undefined = knobs[name];
  return value === undefined ? null : Number(value);
}

/**
 * The embedded llama.cpp engine as a provider: no process, the knobs go to node-llama-cpp's model
 * and context. `ctx` is the total context as for llama-server (each of the `parallel` sequences
 * gets `ctx / parallel` cells), so a sweep means the same on both.
 */
export const embeddedProvider: ServerProvider & {
  configuration(knobs: KnobValues, modelLayers: number | null): EmbeddedConfiguration;
} = {
  name: "embedded",
  launches_process: false,
  knob_names: {
    model: "model file",
    ctx: "contextSize × sequences",
    parallel: "sequences",
    threads: "threads",
    batch: "batchSize",
    ubatch: "batchSize (min with batch)",
    cache_type_k: "experimentalKvCacheKeyType",
    cache_type_v: "experimentalKvCacheValueType",
    flash_attn: "flashAttention",
    gpu_layers: "gpuLayers",
  },
  other_knobs: "none",
  command() {
    throw new TokbenchError("INTERNAL", "the embedded engine runs in-process: it has no command line");
  },
  configuration(knobs: KnobValues, modelLayers: number | null): EmbeddedConfiguration {
    for (const name of Object.keys(knobs)) {
      if (!(name in this.knob_names) || name === "model") {
        if (name !== "model") throw unsupportedKnob("embedded", name);
      }
    }
    const parallel = numberKnob(knobs, "parallel") ?? 1;
    const ctx = numberKnob(knobs, "ctx");
    const fa = knobs.flash_attn === undefined ? "off" : flashAttnWord(knobs.flash_attn);
    return {
      ctx_per_sequence: ctx === null ? null : Math.floor(ctx / parallel),
      parallel,
      threads: numberKnob(knobs, "threads"),
      batch_size: numberKnob(knobs, "batch"),
      ubatch_size: numberKnob(knobs, "ubatch"),
      type_k: knobs.cache_type_k === undefined ? "f16" : String(knobs.cache_type_k),
      type_v: knobs.cache_type_v === undefined ? "f16" : String(knobs.cache_type_v),
      flash_attn: fa === "on" ? true : fa === "off" ? false : "auto",
      gpu_layers: knobs.gpu_layers === undefined ? 0 : gpuLayerCount(knobs.gpu_layers, modelLayers),
    };
  },
};
