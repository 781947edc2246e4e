import type { WorkloadOptions } from "../../../benchmark/WorkloadOptions.js";
import type { LoadOptions } from "../../../load/LoadOptions.js";
import { checkNumberFlag } from "../../parseNumberFlag.js";

/** The flags {@link loadOptionsFromArgs} reads. */
export interface CommonArgs {
  requests?: number | undefined;
  duration?: number | undefined;
  concurrency?: number | undefined;
  rate?: number | undefined;
  arrival: "constant" | "poisson";
  warmup: number;
  "max-errors"?: number | undefined;
  "busy-poll"?: boolean | undefined;
  seed: number;
  "prompt-tokens": number;
  "prompt-file"?: string | undefined;
  "max-tokens": number;
  "force-output": boolean;
  "unique-prefix": boolean;
}

/** Checks the load and workload flags and turns them into options; throws INVALID_ARGUMENT on bad values. */
export function loadOptionsFromArgs(args: CommonArgs): { load: LoadOptions; workload: WorkloadOptions } {
  const duration =
    args.duration === undefined ? null : checkNumberFlag("duration", args.duration, { min: 0.001 });
  const rate = args.rate === undefined ? null : checkNumberFlag("rate", args.rate, { min: 0.001 });
  const requests =
    args.requests === undefined
      ? duration === null
        ? 32
        : null
      : checkNumberFlag("requests", args.requests, { min: 1, integer: true });
  const concurrency =
    args.concurrency === undefined
      ? rate === null
        ? 1
        : Number.POSITIVE_INFINITY
      : checkNumberFlag("concurrency", args.concurrency, { min: 1, integer: true });
  return {
    load: {
      requests,
      duration_s: duration,
      concurrency,
      rate,
      arrival: args.arrival,
      warmup: checkNumberFlag("warmup", args.warmup, { min: 0, integer: true }),
      max_errors:
        args["max-errors"] === undefined
          ? null
          : checkNumberFlag("max-errors", args["max-errors"], { min: 1, integer: true }),
      seed: checkNumberFlag("seed", args.seed, { integer: true }),
      busy_poll: args["busy-poll"] === true,
    },
    workload: {
      prompt_tokens: checkNumberFlag("prompt-tokens", args["prompt-tokens"], { min: 1, integer: true }),
      prompt_file: args["prompt-file"] ?? null,
      max_tokens: checkNumberFlag("max-tokens", args["max-tokens"], { min: 1, integer: true }),
      force_output_length: args["force-output"],
      unique_prefix: args["unique-prefix"],
      seed: checkNumberFlag("seed", args.seed, { integer: true }),
    },
  };
}
