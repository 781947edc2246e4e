import { TokbenchError } from "../errors/TokbenchError.js";

/** What {@link refuseRepeatedFlags} needs of yargs' `getOptions()`: the declared flags and the list ones. */
export interface DeclaredFlags {
  /** Every declared flag, by its first name (aliases and positionals are not keys). */
  key: Record<string, unknown>;
  /** Flags (and their aliases) that take a list. */
  array: string[];
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
