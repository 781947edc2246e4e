import { TokbenchError } from "../errors/TokbenchError.js";
import type { Axis, AxisValue } from "../search/Axis.js";
import type { ProviderName } from "../servers/ServerProvider.js";
import type { Configuration } from "./Measurement.js";

/**
 * What a server does when a knob is not given (llama.cpp's common/arg.cpp and tools/server; the
 * embedded engine's node-llama-cpp context defaults), by standard knob name. `threads: "cores"`
 * stands for the machine's core count. A template is taken to be llama-server-like.
 */
const SERVER_DEFAULTS: Readonly<Record<string, Readonly<Record<string, AxisValue>>>> = {
  "llama-server": {
    parallel: 4, // -np -1 (auto) serves 4 slots
    batch: 2048,
    ubatch: 512,
    cache_type_k: "f16",
    cache_type_v: "f16",
    flash_attn: "auto",
    threads: "cores",
  },
  embedded: {
    parallel: 1,
    batch: 2048,
    ubatch: 512,
    cache_type_k: "f16",
    cache_type_v: "f16",
    flash_attn: "auto",
    threads: "cores",
  },
  ollama: { parallel: 1, batch: 512, cache_type_k: "f16", flash_attn: "off", threads: "cores" },
  vllm: { parallel: 256, batch: 8192 },
  sglang: {},
  "mlx-lm": {},
};

function closest(values: readonly AxisValue[], target: AxisValue): AxisValue {
  if (values.includes(target)) return target;
  if (typeof target === "number" && values.every((v) => typeof v === "number")) {
    // Nearest on a log scale: knob values grow by factors (batch 256, 512, 1024).
    const dist = (v: number) => Math.abs(Math.log(Math.max(v, 1e-9)) - Math.log(Math.max(target, 1e-9)));
    return [...(values as number[])].sort((a, b) => dist(a) - dist(b) || a - b)[0] as number;
  }
  if (target === "auto") {
    const on = values.find((v) => String(v).toLowerCase() === "on");
    if (on !== undefined) return on;
  }
  return values[0] as AxisValue;
}

/**
 * The default configuration of a knob space: for each axis the server's own default when it is
 * one of the axis's values, else the nearest value to it (log scale), else the first value listed.
 * `given` (`--baseline NAME=v,...`) wins for the knobs it names; a value outside the axis is refused.
 */
export function defaultBaseline(
  axes: readonly Axis[],
  provider: ProviderName,
  cores: number,
  given: Readonly<Record<string, AxisValue>> = {},
): Configuration {
  const defaults = SERVER_DEFAULTS[provider === "template" ? "llama-server" : provider] ?? {};
  const out: Record<string, AxisValue> = {};
  for (const axis of axes) {
    const chosen = given[axis.name];
    if (chosen !== undefined) {
      const match = axis.values.find((v) => String(v) === String(chosen));
      if (match === undefined) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `--baseline ${axis.name}=${chosen}: not one of the knob's values (${axis.values.join(", ")})`,
        );
      }
      out[axis.name] = match;
      continue;
    }
    const d = defaults[axis.name];
    out[axis.name] =
      d === undefined ? (axis.values[0] as AxisValue) : closest(axis.values, d === "cores" ? cores : d);
  }
  for (const name of Object.keys(given)) {
    if (!axes.some((a) => a.name === name))
      throw new TokbenchError("INVALID_ARGUMENT", `--baseline ${name}=...: there is no knob "${name}"`);
  }
  return out;
}
