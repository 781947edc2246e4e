import { isTokbenchError } from "../errors/TokbenchError.js";

/**
 * The `status_reason` of a run stopped through `signal`: the message of the abort reason when the
 * caller gave one (a `RUN_INTERRUPTED` TokbenchError, e.g. "stopped by SIGTERM", or a string),
 * else "interrupted by the user".
 */
export function interruptReason(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  if (isTokbenchError(reason, "RUN_INTERRUPTED")) return reason.message;
  if (typeof reason === "string" && reason !== "") return reason;
  return "interrupted by the user";
}
