import { TokbenchError } from "../errors/TokbenchError.js";

/** A list value as a command line or a file hands it over: one string, a number, or an array of either (repeated flag). */
export type ListInput = string | number | boolean | readonly (string | number | boolean)[] | undefined;

/** Upper bound on a range's expansion: a typo like `1-100000` must not create a grid of 100000 points. */
export const MAX_RANGE_VALUES = 1024;

function invalid(flag: string, value: string, why: string): TokbenchError {
  return new TokbenchError("INVALID_ARGUMENT", `--${flag}: invalid value "${value}": ${why}`, {
    context: { flag, value },
  });
}

/** Splits a list input into its comma-separated items, trimmed, empty items rejected. */
export function splitListItems(flag: string, input: ListInput): string[] {
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

/** Parses one integer item of a list (no range); throws INVALID_ARGUMENT naming the flag. */
export function parseInteger(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^[+-]?\d+$/.test(text)) throw invalid(flag, text, "not an integer");
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw invalid(flag, text, "out of range");
  if (value < min) throw invalid(flag, text, `must be at least ${min}`);
  if (value > max) throw invalid(flag, text, `must be at most ${max.toLocaleString("en-US")}`);
  return value;
}

/**
 * Parses an integer list the way llama-bench does: a comma list (`1,2,4`), a range (`1-8`), a range
 * with an additive step (`1-8+2` → 1,3,5,7) or a multiplicative step (`1-64*2` → 1,2,4,...,64), or
 * any mix (`1,4-8+4`). Values keep their order; duplicates are dropped.
 * Throws INVALID_ARGUMENT on anything else, or a value below `min` or above `max` (defaults to no limit).
 */
export function parseIntList(
  flag: string,
  input: ListInput,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number[] {
  const out: number[] = [];
  for (const item of splitListItems(flag, input)) {
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
 * Parses a list of positive decimal numbers (`0.5,1,2`), for axes such as an arrival rate that are
 * not integers. Ranges are not accepted: a decimal range has no natural step. Duplicates are dropped.
 */
export function parseNumberList(flag: string, input: ListInput, min: number): number[] {
  const out: number[] = [];
  for (const item of splitListItems(flag, input)) {
    if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(item)) throw invalid(flag, item, "not a number");
    const value = Number(item);
    if (!Number.isFinite(value)) throw invalid(flag, item, "out of range");
    if (value < min) throw invalid(flag, item, `must be at least ${min}`);
    out.push(value);
  }
  return [...new Set(out)];
}
