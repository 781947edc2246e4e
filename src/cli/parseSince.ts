import { TokbenchError } from "../errors/TokbenchError.js";

const UNITS_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Reads a `--since`/`--older-than` value as an ISO time: a duration back from `now` (`30m`, `12h`,
 * `7d`, `2w`) or a date or time (`2025-01-31`, `2025-01-31T12:00`).
 * @throws TokbenchError `INVALID_ARGUMENT` for anything else.
 */
export function parseSince(flag: string, value: string, now: Date = new Date()): string {
  const relative = /^(\d+(?:\.\d+)?)\s*([mhdw])$/.exec(value.trim());
  if (relative) {
    return new Date(
      now.getTime() - Number(relative[1]) * (UNITS_MS[relative[2] as string] as number),
    ).toISOString();
  }
  const date = /^\d{4}-\d{2}-\d{2}/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--${flag} ${value}: give a duration (30m, 12h, 7d, 2w) or a date (2025-01-31, 2025-01-31T12:00)`,
      { context: { option: flag, value } },
    );
  }
  return date.toISOString();
}
