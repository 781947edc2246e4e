import { TokbenchError } from "../errors/TokbenchError.js";

/** What the checks here need of yargs' `getOptions()`: the declared flags, by kind. */
export interface DeclaredFlags {
  /** Every declared flag, by its first name (aliases and positionals are not keys). */
  key: Record<string, unknown>;
  /** Flags (and their aliases) that take a list. */
  array: string[];
  /** Flags (and their aliases) that yargs reads as numbers (`type: "number"`). */
  number: string[];
  /** The other names of each flag. */
  alias: Record<string, string[]>;
}

/**
 * Throws `INVALID_ARGUMENT` when a flag that takes one value was given more than once: yargs then
 * hands the command an array of both values, which one command joined into a name ("a,b") and
 * another passed to a file API. List flags (`--tag`, `--pp`, ...) are left alone.
 */
export function refuseRepeatedFlags(args: Record<string, unknown>, declared: DeclaredFlags): void {
  const lists = new Set(declared.array);
  for (const name of Object.keys(declared.key)) {
    if (lists.has(name) || !Array.isArray(args[name])) continue;
    throw new TokbenchError("INVALID_ARGUMENT", `--${name} was given more than once`, {
      context: { flag: name },
    });
  }
}

/**
 * Throws `INVALID_ARGUMENT`, quoting what was typed, when a `type: "number"` flag is not a finite
 * number: yargs turns `abc` into NaN and `1e999` into Infinity, which the commands then reported as
 * "got NaN" or, where no range was checked, used. (Flags read with checkNumberFlag arrive as typed
 * and are checked there, with their limits.) `raw` is the command line as typed.
 */
export function refuseUnreadableNumbers(
  args: Record<string, unknown>,
  declared: DeclaredFlags,
  raw: readonly string[],
): void {
  const numbers = new Set(declared.number);
  for (const name of Object.keys(declared.key)) {
    const value = args[name];
    if (!numbers.has(name) || typeof value !== "number" || Number.isFinite(value)) continue;
    const names = [name, ...(declared.alias[name] ?? [])];
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--${name} must be a number (got ${typedValue(raw, names)})`,
      {
        context: { flag: name },
      },
    );
  }
}

/** What followed `--name` (or `-n`, `--name=`) on the command line, quoted; `nothing` when absent. */
function typedValue(raw: readonly string[], names: readonly string[]): string {
  let typed: string | undefined;
  for (let i = 0; i < raw.length; i++) {
    const arg = raw[i] as string;
    for (const name of names) {
      const flag = name.length === 1 ? `-${name}` : `--${name}`;
      if (arg === flag) typed = raw[i + 1];
      else if (arg.startsWith(`${flag}=`)) typed = arg.slice(flag.length + 1);
    }
  }
  return typed === undefined ? "nothing" : JSON.stringify(typed);
}
