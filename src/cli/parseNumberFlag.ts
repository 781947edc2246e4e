import { TokbenchError } from "../errors/TokbenchError.js";

/**
 * Checks a numeric flag: finite, at least `min`, an integer when asked. Throws `INVALID_ARGUMENT`
 * naming the flag, so the user sees `--concurrency must be an integer >= 1 (got "abc")`.
 */
export function checkNumberFlag(
  name: string,
  value: unknown,
  { min = Number.NEGATIVE_INFINITY, integer = false }: { min?: number; integer?: boolean } = {},
): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    const kind = integer ? "an integer" : "a number";
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--${name} must be ${kind} >= ${min} (got ${JSON.stringify(value)})`,
      {
        context: { flag: name },
      },
    );
  }
  return n;
}
