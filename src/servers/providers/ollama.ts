import { TokbenchError } from "../../errors/TokbenchError.js";
import {
  flashAttnWord,
  gpuLayerCount,
  type ServerCommand,
  type ServerCommandInput,
  type ServerProvider,
  unsupportedKnob,
} from "../ServerProvider.js";

/** Knobs that are server settings, read by `ollama serve` from its environment. */
const ENV: Readonly<Record<string, string>> = {
  parallel: "OLLAMA_NUM_PARALLEL",
  flash_attn: "OLLAMA_FLASH_ATTENTION",
  cache_type_k: "OLLAMA_KV_CACHE_TYPE",
};

/** Knobs that are per-request model options (`options` of `/api/chat`). */
const OPTIONS: Readonly<Record<string, string>> = {
  ctx: "num_ctx",
  threads: "num_thread",
  batch: "num_batch",
  gpu_layers: "num_gpu",
};

/**
 * Ollama: `ollama serve` with `OLLAMA_HOST=H:P`, one model loaded at a time and kept loaded for
 * the whole configuration (`OLLAMA_MAX_LOADED_MODELS=1`, `OLLAMA_KEEP_ALIVE=-1`). Server settings
 * come from its environment (`OLLAMA_NUM_PARALLEL`, `OLLAMA_FLASH_ATTENTION`,
 * `OLLAMA_KV_CACHE_TYPE`, one type for K and V), model settings from each request's `options`
 * (`num_ctx`: context per sequence, Ollama allocates it once per parallel slot; `num_thread`,
 * `num_batch`, `num_gpu`). Ready when `GET /api/tags` answers; the model itself loads on the
 * warmup request. `--model` is the Ollama model name (`llama3.2:1b`); model files do not apply.
 */
export const ollamaProvider: ServerProvider = {
  name: "ollama",
  launches_process: true,
  knob_names: {
    ...ENV,
    ...Object.fromEntries(Object.entries(OPTIONS).map(([k, v]) => [k, `options.${v}`])),
  },
  other_knobs: "OLLAMA_* names go to the environment; other names to each request's options",
  command(input: ServerCommandInput): ServerCommand {
    const env: Record<string, string> = {
      OLLAMA_HOST: `${input.host}:${input.port}`,
      OLLAMA_MAX_LOADED_MODELS: "1",
      OLLAMA_KEEP_ALIVE: "-1",
    };
    const options: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(input.knobs)) {
      if (name === "cache_type_v") {
        if (input.knobs.cache_type_k !== undefined && input.knobs.cache_type_k !== value) {
          throw new TokbenchError(
            "INVALID_ARGUMENT",
            "ollama has one KV cache type for K and V (OLLAMA_KV_CACHE_TYPE): give --cache-type-k only",
          );
        }
        env.OLLAMA_KV_CACHE_TYPE = String(value);
      } else if (name === "ubatch") {
        throw unsupportedKnob("ollama", name);
      } else if (ENV[name] !== undefined) {
        env[ENV[name]] = name === "flash_attn" ? (flashAttnWord(value) === "off" ? "0" : "1") : String(value);
      } else if (OPTIONS[name] !== undefined) {
        options[OPTIONS[name]] =
          name === "gpu_layers" ? gpuLayerCount(value, input.model_layers) : (value as number);
      } else if (/^OLLAMA_[A-Z0-9_]+$/.test(name)) {
        env[name] = String(value);
      } else {
        options[name] = value;
      }
    }
    return {
      argv: [...(input.program ?? ["ollama"]), "serve"],
      env,
      ready_path: "/api/tags",
      api: "ollama",
      request_options: options,
    };
  },
};
