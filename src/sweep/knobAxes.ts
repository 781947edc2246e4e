import { statSync } from "node:fs";
import { TokbenchError } from "../errors/TokbenchError.js";
import { kvTypeBytes } from "../gguf/estimateModelMemory.js";
import { type Axis, type AxisOrder, type AxisValue, makeAxis } from "../search/Axis.js";
import { type ListInput, parseIntList, parseNumberList, splitListItems } from "../search/parseListValues.js";
import { STANDARD_KNOBS } from "../servers/ServerProvider.js";

/**
 * The values of a knob from text: all integers or ranges (`1-8`, `1-64*2`, as llama-bench) give
 * numbers, all decimals give numbers, anything else is kept as text (`q8_0`, `50%`, `on`).
 */
export function parseKnobValues(name: string, input: ListInput): AxisValue[] {
  const items = splitListItems(name, input);
  if (items.every((item) => /^\d+(-\d+([+*]\d+)?)?$/.test(item))) return parseIntList(name, items, 0);
  if (items.every((item) => /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(item)))
    return parseNumberList(name, items, Number.NEGATIVE_INFINITY);
  return [...new Set(items)];
}

/** `NAME=v1,v2` of a `--knob` flag. */
export function parseKnobFlag(text: string): { name: string; values: AxisValue[] } {
  const eq = text.indexOf("=");
  const name = eq === -1 ? "" : text.slice(0, eq).trim();
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--knob: invalid value "${text}": expected NAME=v1,v2,... (a name of letters, digits, _ and -)`,
      { context: { flag: "knob" } },
    );
  }
  return { name, values: parseKnobValues(`knob ${name}`, text.slice(eq + 1)) };
}

/**
 * The axis of a knob, lightest first: the standard knobs rank as their memory grows (a context
 * size or slot count ascending, a KV type by its bytes per element, model files by size);
 * other numeric knobs ascending; anything else is unordered. `order` overrides (a sweep file's
 * `order: none` for a numeric knob that does not change memory).
 */
export function knobAxis(name: string, values: readonly AxisValue[], order?: AxisOrder): Axis {
  if (values.length === 0) throw new TokbenchError("INVALID_ARGUMENT", `knob "${name}" has no values`);
  const standard = STANDARD_KNOBS[name];
  const chosen = order ?? standard?.order;
  if (chosen === "none") return makeAxis(name, values, { order: "none" });
  if (name === "cache_type_k" || name === "cache_type_v") {
    return makeAxis(name, values, { rank: (v) => kvTypeBytes(String(v).toLowerCase()) });
  }
  if (name === "model") {
    const sizes = new Map<AxisValue, number>();
    for (const v of values) {
      try {
        sizes.set(v, statSync(String(v)).size);
      } catch {
        // A model name rather than a file (vLLM, Ollama): no order by size.
        return makeAxis(name, values, { order: "none" });
      }
    }
    return makeAxis(name, values, { rank: (v) => sizes.get(v) ?? 0 });
  }
  return makeAxis(name, values, chosen === undefined ? {} : { order: chosen });
}
