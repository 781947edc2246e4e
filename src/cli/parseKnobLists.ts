import { type GpuLayersSpec, KV_CACHE_TYPES, type KvCacheType } from "../engine/knobValues.js";
import { TokbenchError } from "../errors/TokbenchError.js";

/** A knob value as yargs hands it over: one string, a number, or an array of either (repeated flag). */
export type KnobInput = string | number | boolean | readonly (string | number | boolean)[] | undefined;

/**
 * Largest values of the engine knobs: beyond them a value is a typo, not a test (`--pp 99999999`
 * would ask for a context no model has).
 */
export const MAX_KNOB = {
  /** Prompt, generation and depth tokens of a test. */
  tokens: 1 << 20,
  /** Context per sequence. */
  context: 1 << 24,
  threads: 1024,
  /** n_batch, n_ubatch. */
  batch: 1 << 20,
  parallel: 1024,
} as const;

/** Upper bound on a range's expansion: a typo like `1-100000` must not create a grid of 100000 points. */
const MAX_RANGE_VALUES = 1024;

function invalid(flag: string, value: string, why: string): TokbenchError {
  return new TokbenchError("INVALID_ARGUMENT", `--${flag}: invalid value "${value}": ${why}`, {
    context: { flag, value },
  });
}

/** Splits a knob input into its comma-separated items, trimmed, empty items rejected. */
export function splitKnobItems(flag: string, input: KnobInput): string[] {
  if (input === undefined) return [];
  const parts = Array.isArray(input) ? input : [input];
  const items: string[] = [];
  for (const part of parts) {
    for (const raw of String(part).split(",")) {
      const item = raw.trim();
      if (item === "") throw invalid(flag, String(part), "empty item in list");
      items.push(item);
    }
  }
  return items;
}

function parseInteger(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^[+-]?\d+$/.test(text)) throw invalid(flag, text, "not an integer");
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw invalid(flag, text, "out of range");
  if (value < min) throw invalid(flag, text, `must be at least ${min}`);
  if (value > max) throw invalid(flag, text, `must be at most ${max.toLocaleString("en-US")}`);
  return value;
}

/**
 * Parses an integer knob the way llama-bench does: a comma list (`1,2,4`), a range (`1-8`), a range
 * with an additive step (`1-8+2` → 1,3,5,7) or a multiplicative step (`1-64*2` → 1,2,4,...,64), or
 * any mix (`1,4-8+4`). Values keep their order; duplicates are dropped.
 * Throws INVALID_ARGUMENT on anything else, or a value below `min` or above `max` (defaults to no limit).
 */
export function parseIntList(
  flag: string,
  input: KnobInput,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number[] {
  const out: number[] = [];
  for (const item of splitKnobItems(flag, input)) {
    const range = /^(\d+)-(\d+)(?:([+*])(\d+))?$/.exec(item);
    if (range === null) {
      out.push(parseInteger(flag, item, min, max));
      continue;
    }
    const first = parseInteger(flag, range[1] as string, min, max);
    const last = parseInteger(flag, range[2] as string, min, max);
    const op = range[3] ?? "+";
    const step = range[4] === undefined ? 1 : Number(range[4]);
    if (last < first) throw invalid(flag, item, "range end is below its start");
    if (op === "+" && step < 1) throw invalid(flag, item, "step must be at least 1");
    if (op === "*" && (step < 2 || first < 1))
      throw invalid(flag, item, "multiplier must be at least 2 from a start of at least 1");
    for (let v = first; v <= last; v = op === "+" ? v + step : v * step) {
      out.push(v);
      if (out.length > MAX_RANGE_VALUES)
        throw invalid(flag, item, `expands to more than ${MAX_RANGE_VALUES} values`);
    }
  }
  return [...new Set(out)];
}

/**
 * Parses `--gpu-layers`: integers, ranges as {@link parseIntList}, and percentages of the model's
 * layers (`0%,25%,50%,100%`), resolved once the model's layer count is known.
 */
export function parseGpuLayersList(flag: string, input: KnobInput): GpuLayersSpec[] {
  const out: GpuLayersSpec[] = [];
  for (const item of splitKnobItems(flag, input)) {
    if (item.endsWith("%")) {
      const percent = parseInteger(flag, item.slice(0, -1), 0);
      if (percent > 100) throw invalid(flag, item, "a percentage cannot exceed 100");
      out.push({ percent });
    } else {
      for (const layers of parseIntList(flag, item, 0)) out.push({ layers });
    }
  }
  return out;
}

/** Parses `--flash-attn`: `0`/`1`, `off`/`on`, `false`/`true`, or `auto`. */
export function parseFlashAttnList(flag: string, input: KnobInput): (boolean | "auto")[] {
  const out: (boolean | "auto")[] = [];
  for (const item of splitKnobItems(flag, input)) {
    const v = item.toLowerCase();
    if (v === "1" || v === "on" || v === "true") out.push(true);
    else if (v === "0" || v === "off" || v === "false") out.push(false);
    else if (v === "auto") out.push("auto");
    else throw invalid(flag, item, "expected 0, 1, on, off or auto");
  }
  return [...new Set(out)];
}

/** Parses a KV-cache type list (`f16,q8_0`), case-insensitive. */
export function parseCacheTypeList(flag: string, input: KnobInput): KvCacheType[] {
  const out: KvCacheType[] = [];
  for (const item of splitKnobItems(flag, input)) {
    const v = item.toLowerCase();
    if (!(KV_CACHE_TYPES as readonly string[]).includes(v)) {
      throw invalid(flag, item, `expected one of ${KV_CACHE_TYPES.join(", ")}`);
    }
    out.push(v as KvCacheType);
  }
  return [...new Set(out)];
}

/**
 * Parses `--pg` prompt+generation pairs: each occurrence (or `;`-separated item) is `pp,tg`, for
 * example `--pg 512,128 --pg 64,16` or `--pg "512,128;64,16"`.
 */
export function parsePgList(flag: string, input: KnobInput): [number, number][] {
  if (input === undefined) return [];
  const parts = (Array.isArray(input) ? input : [input]).flatMap((p) => String(p).split(";"));
  return parts.map((part) => {
    const pair = part.split(",").map((s) => s.trim());
    if (pair.length !== 2) throw invalid(flag, part, "expected a pair pp,tg such as 512,128");
    return [
      parseInteger(flag, pair[0] as string, 1, MAX_KNOB.tokens),
      parseInteger(flag, pair[1] as string, 1, MAX_KNOB.tokens),
    ];
  });
}
