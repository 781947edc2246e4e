import { TokbenchError } from "../errors/TokbenchError.js";

/**
 * yargs settings of every numeric flag, in place of `type: "number"`: yargs turns text that is not a
 * number into NaN, which loses what the user typed, so numeric flags arrive as typed and
 * {@link checkNumberFlag} reads them (and quotes them when they are wrong).
 */
export const NUMBER_FLAG = { requiresArg: true } as const;

/**
 * tokbench's yargs parser settings: numbers stay as typed until a command reads them with
 * {@link checkNumberFlag}. A command that changes a setting must spread these in, because yargs'
 * `parserConfiguration` replaces the whole configuration rather than merging into it.
 */
export const PARSER_CONFIGURATION = { "parse-numbers": false, "parse-positional-numbers": false } as const;

/** A decimal number as a user types it: `12`, `-3`, `0.5`, `.5`, `1e6`. No hex, no `Infinity`. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;

/** Limits of a numeric flag. */
export interface NumberFlagLimits {
  /** Smallest value accepted. Defaults to no limit. */
  min?: number;
  /** Largest value accepted: absurd counts are refused rather than run. Defaults to no limit. */
  max?: number;
  /** Only whole numbers. Defaults to false. */
  integer?: boolean;
}

/** What a flag must be, in words: `a positive integer`, `a number between 0 and 1`. */
function expectation({
  min = Number.NEGATIVE_INFINITY,
  max = Number.POSITIVE_INFINITY,
  integer = false,
}: NumberFlagLimits): string {
  const format = (n: number): string => n.toLocaleString("en-US", { maximumFractionDigits: 20 });
  const kind = integer ? "integer" : "number";
  const upTo = Number.isFinite(max) ? ` up to ${format(max)}` : "";
  if (integer && min === 1) return `a positive integer${upTo}`;
  if (integer && min === 0) return `a non-negative integer${upTo}`;
  if (Number.isFinite(min) && Number.isFinite(max))
    return `a number between ${format(min)} and ${format(max)}`;
  if (Number.isFinite(min)) return `${integer ? "an integer" : "a number"} >= ${format(min)}${upTo}`;
  return `a${kind === "integer" ? "n" : ""} ${kind}${upTo}`;
}

/**
 * Reads a numeric flag as the user typed it: a decimal number, within `limits`. Throws
 * `INVALID_ARGUMENT` naming the flag, what it must be and what was typed, e.g.
 * `--max-tokens must be a positive integer (got "abc")`.
 */
export function checkNumberFlag(name: string, value: unknown, limits: NumberFlagLimits = {}): number {
  const { min = Number.NEGATIVE_INFINITY, max = Number.POSITIVE_INFINITY, integer = false } = limits;
  if (Array.isArray(value)) {
    throw new TokbenchError("INVALID_ARGUMENT", `--${name} was given more than once`, {
      context: { flag: name },
    });
  }
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && DECIMAL.test(value.trim())
        ? Number(value.trim())
        : Number.NaN;
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const typed = typeof value === "string" ? JSON.stringify(value) : String(value);
    throw new TokbenchError("INVALID_ARGUMENT", `--${name} must be ${expectation(limits)} (got ${typed})`, {
      context: { flag: name },
    });
  }
  return n;
}
