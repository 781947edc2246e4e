import { TokbenchError } from "../errors/TokbenchError.js";
import type { AxisOrder, AxisValue } from "../search/Axis.js";

/** The servers tokbench can launch, the generic template, and the in-process engine. */
export const PROVIDER_NAMES = [
  "llama-server",
  "ollama",
  "vllm",
  "sglang",
  "mlx-lm",
  "template",
  "embedded",
] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** One server configuration: a value per knob, by knob name. */
export type KnobValues = Readonly<Record<string, AxisValue>>;

/** A knob every provider names the same way: the placeholder of a template and the flag of `tokbench sweep`. */
export interface StandardKnob {
  /** `tokbench sweep` flag that gives its values (`--ctx-size`). */
  flag: string;
  /** How its values rank by memory, for skipping heavier configurations after an out-of-memory. */
  order: AxisOrder;
  description: string;
}

/**
 * The standard knobs. A template uses them as placeholders (`{ctx}`); a provider maps each to its
 * own flag, environment variable or request option, and refuses one it has no equivalent for.
 */
export const STANDARD_KNOBS: Readonly<Record<string, StandardKnob>> = {
  model: { flag: "model-file", order: "ascending", description: "model file (heavier: larger file)" },
  ctx: { flag: "ctx-size", order: "ascending", description: "context size in tokens" },
  parallel: { flag: "parallel", order: "ascending", description: "parallel sequences (slots)" },
  threads: { flag: "threads", order: "none", description: "CPU threads" },
  batch: { flag: "batch-size", order: "ascending", description: "logical batch size" },
  ubatch: { flag: "ubatch-size", order: "ascending", description: "physical batch size" },
  cache_type_k: { flag: "cache-type-k", order: "ascending", description: "KV cache K type" },
  cache_type_v: { flag: "cache-type-v", order: "ascending", description: "KV cache V type" },
  flash_attn: { flag: "flash-attn", order: "none", description: "flash attention (on, off, auto)" },
  gpu_layers: {
    flag: "gpu-layers",
    order: "none",
    description: "layers offloaded to the GPU, or a % of them",
  },
};

/** What a provider needs to build one launch. */
export interface ServerCommandInput {
  /** Program (and leading arguments) to run instead of the provider's default. Defaults to the provider's. */
  program: readonly string[] | null;
  /** Model file or name, when the configuration has one. */
  model: string | null;
  host: string;
  port: number;
  /** Knob values of this configuration, without `model`. */
  knobs: KnobValues;
  /** The model's layer count, to resolve a `gpu_layers` percentage; null when unknown. */
  model_layers: number | null;
}

/** One launch, ready for `ServerProcess`. */
export interface ServerCommand {
  argv: string[];
  env: Record<string, string>;
  /** Path that answers 200 once the server is ready. */
  ready_path: string;
  /** The API requests go to: OpenAI-compatible (`/v1`) or Ollama's native one. */
  api: "openai" | "ollama";
  /** Ollama's per-request `options` (num_ctx, num_thread, ...); empty for other servers. */
  request_options: Record<string, unknown>;
}

/** A kind of server: its command line and knob names. */
export interface ServerProvider {
  readonly name: ProviderName;
  /** False for the embedded engine, which runs in tokbench's process. */
  readonly launches_process: boolean;
  /** What each standard knob becomes (a flag, an environment variable, a request option), for help and docs. */
  readonly knob_names: Readonly<Record<string, string>>;
  /** How knobs that are not standard are passed, for help and docs. */
  readonly other_knobs: string;
  /** Builds the command of one configuration; throws INVALID_ARGUMENT for a knob it cannot take. */
  command(input: ServerCommandInput): ServerCommand;
}

/** llama.cpp's spelling of a flash-attention value: `on`, `off` or `auto`. */
export function flashAttnWord(value: AxisValue): "on" | "off" | "auto" {
  const v = String(value).toLowerCase();
  if (v === "true" || v === "1" || v === "on") return "on";
  if (v === "false" || v === "0" || v === "off") return "off";
  if (v === "auto") return "auto";
  throw new TokbenchError(
    "INVALID_ARGUMENT",
    `--flash-attn: invalid value "${value}": expected on, off or auto`,
  );
}

/** A GPU-layer value as a layer count: a number, or a percentage of the model's layers (`50%`). */
export function gpuLayerCount(value: AxisValue, modelLayers: number | null): number {
  const text = String(value);
  if (text.endsWith("%")) {
    const percent = Number(text.slice(0, -1));
    if (modelLayers === null) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `--gpu-layers ${text}: a percentage needs the model's layer count, which only a GGUF model file gives`,
      );
    }
    // llama.cpp counts the output layer as one more offloadable layer.
    return Math.round((percent / 100) * (modelLayers + 1));
  }
  return Number(value);
}

/** A pass-through knob as a long flag: `--name value`; a boolean as `--name` / `--no-name`. */
export function longFlag(name: string, value: AxisValue): string[] {
  if (value === true) return [`--${name}`];
  if (value === false) return [`--no-${name}`];
  return [`--${name}`, String(value)];
}

/** Refuses a standard knob a provider has no equivalent for (it would otherwise do nothing, silently). */
export function unsupportedKnob(provider: ProviderName, knob: string): TokbenchError {
  const flag = STANDARD_KNOBS[knob]?.flag ?? knob;
  return new TokbenchError("INVALID_ARGUMENT", `--${flag} has no equivalent for ${provider}`, {
    context: { provider, knob },
  });
}
