import { type GpuLayersSpec, KV_CACHE_TYPES, type KvCacheType } from "../engine/knobValues.js";
import { TokbenchError } from "../errors/TokbenchError.js";
import { type ListInput, parseInteger, parseIntList, splitListItems } from "../search/parseListValues.js";

/** A knob value as yargs hands it over: one string, a number, or an array of either (repeated flag). */
export type KnobInput = ListInput;

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

function invalid(flag: string, value: string, why: string): TokbenchError {
  return new TokbenchError("INVALID_ARGUMENT", `--${flag}: invalid value "${value}": ${why}`, {
    context: { flag, value },
  });
}

/**
 * Parses `--gpu-layers`: integers, ranges as {@link parseIntList}, and percentages of the model's
 * layers (`0%,25%,50%,100%`), resolved once the model's layer count is known.
 */
export function parseGpuLayersList(flag: string, input: KnobInput): GpuLayersSpec[] {
  const out: GpuLayersSpec[] = [];
  for (const item of splitListItems(flag, input)) {
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
  for (const item of splitListItems(flag, input)) {
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
  for (const item of splitListItems(flag, input)) {
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
