import type { WorkloadOptions } from "../../../benchmark/WorkloadOptions.js";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import type { LoadOptions } from "../../../load/LoadOptions.js";
import { checkNumberFlag } from "../../parseNumberFlag.js";

/**
 * Upper limits of the load and workload flags. Beyond them a run is not a benchmark but a typo
 * (`-n 1e300` would run forever): such values are refused, not clamped.
 */
export const FLAG_LIMITS = {
  /** Recorded requests are held in memory (~180 bytes each): 10 million is ~1.8 GB. */
  requests: 10_000_000,
  /** One week. */
  duration_s: 7 * 24 * 3600,
  /** Requests in flight; each holds a connection. */
  concurrency: 100_000,
  /** Requests per second. */
  rate: 1_000_000,
  warmup: 100_000,
  max_errors: 1_000_000_000,
  /** Tokens: beyond the longest context of any model. */
  tokens: 1 << 20,
} as const;

/** Synthetic prompt length when `--prompt-tokens` is not given. */
export const DEFAULT_PROMPT_TOKENS = 128;
/** Output tokens per request when `--max-tokens` is not given. */
export const DEFAULT_MAX_TOKENS = 128;

/** The flags {@link loadOptionsFromArgs} reads; numbers arrive as typed (see `NUMBER_FLAG`). */
export interface CommonArgs {
  requests?: unknown;
  duration?: unknown;
  concurrency?: unknown;
  rate?: unknown;
  arrival: "constant" | "poisson";
  warmup: unknown;
  "max-errors"?: unknown;
  "busy-poll"?: boolean | undefined;
  seed: unknown;
  "prompt-tokens"?: unknown;
  "prompt-file"?: string | undefined;
  "max-tokens"?: unknown;
  "force-output": boolean;
  "unique-prefix": boolean;
}

/** Load and workload flags that `tokbench sweep` takes as lists. */
const SWEEPABLE = ["concurrency", "rate", "prompt-tokens", "max-tokens"] as const;

/**
 * Refuses a list or a range (`--concurrency 1,2,4`, `1-8`) where bench takes one value, and says
 * how to measure several: `tokbench sweep` with the same target (`target`, e.g. `--url URL --model m`).
 */
function refuseLists(args: CommonArgs, target: string): void {
  for (const flag of SWEEPABLE) {
    const value = args[flag];
    if (value === undefined) continue;
    const text = Array.isArray(value) ? value.join(",") : String(value);
    if (Array.isArray(value) || /,/.test(text) || /^\s*\d+\s*-\s*\d+/.test(text)) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `--${flag} takes one value in bench (got "${text}"); to measure each of several, sweep them: tokbench sweep ${target} --${flag} ${text.replace(/\s+/g, "")}`,
        { context: { flag } },
      );
    }
  }
}

/**
 * Checks the load and workload flags and turns them into options; throws INVALID_ARGUMENT on bad
 * values. `target` is how `tokbench sweep` would name the same target, for the message that
 * refuses a list. Defaults to `--url URL --model NAME`.
 */
export function loadOptionsFromArgs(
  args: CommonArgs,
  target = "--url URL --model NAME",
): { load: LoadOptions; workload: WorkloadOptions } {
  refuseLists(args, target);
  const duration =
    args.duration === undefined
      ? null
      : checkNumberFlag("duration", args.duration, { min: 0.001, max: FLAG_LIMITS.duration_s });
  const rate =
    args.rate === undefined
      ? null
      : checkNumberFlag("rate", args.rate, { min: 0.001, max: FLAG_LIMITS.rate });
  const requests =
    args.requests === undefined
      ? duration === null
        ? 32
        : null
      : checkNumberFlag("requests", args.requests, { min: 1, max: FLAG_LIMITS.requests, integer: true });
  const concurrency =
    args.concurrency === undefined
      ? rate === null
        ? 1
        : Number.POSITIVE_INFINITY
      : checkNumberFlag("concurrency", args.concurrency, {
          min: 1,
          max: FLAG_LIMITS.concurrency,
          integer: true,
        });
  const seed = checkNumberFlag("seed", args.seed, {
    min: -Number.MAX_SAFE_INTEGER,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  return {
    load: {
      requests,
      duration_s: duration,
      concurrency,
      rate,
      arrival: args.arrival,
      warmup: checkNumberFlag("warmup", args.warmup, { min: 0, max: FLAG_LIMITS.warmup, integer: true }),
      max_errors:
        args["max-errors"] === undefined
          ? null
          : checkNumberFlag("max-errors", args["max-errors"], {
              min: 1,
              max: FLAG_LIMITS.max_errors,
              integer: true,
            }),
      seed,
      busy_poll: args["busy-poll"] === true,
    },
    workload: {
      prompt_tokens: checkNumberFlag("prompt-tokens", args["prompt-tokens"] ?? DEFAULT_PROMPT_TOKENS, {
        min: 1,
        max: FLAG_LIMITS.tokens,
        integer: true,
      }),
      prompt_file: args["prompt-file"] ?? null,
      max_tokens: checkNumberFlag("max-tokens", args["max-tokens"] ?? DEFAULT_MAX_TOKENS, {
        min: 1,
        max: FLAG_LIMITS.tokens,
        integer: true,
      }),
      force_output_length: args["force-output"],
      unique_prefix: args["unique-prefix"],
      seed,
    },
  };
}
