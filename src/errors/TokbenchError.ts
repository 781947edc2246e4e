import { sanitizeText } from "../text/sanitizeText.js";
import type { ErrorCode } from "./ErrorCode.js";

/** Structured context attached to an error: what was being done, on what. Never holds secrets. */
export type ErrorContext = Readonly<Record<string, string | number | boolean | null | undefined>>;

/**
 * The one error type of tokbench. Every failure the library reports carries a stable
 * {@link ErrorCode} that scripts can match on, a one-line human message, the context it
 * happened in, and the underlying cause when there is one.
 *
 * The CLI prints `message` (and the code) on one line and exits non-zero; it never prints a stack
 * trace for a `TokbenchError`. Messages quote file names, metadata keys and server replies, so the
 * constructor passes the message through {@link sanitizeText}: a message is one line and never
 * carries a control character to the terminal; the raw values stay in `context`.
 */
export class TokbenchError extends Error {
  override readonly name = "TokbenchError";
  readonly code: ErrorCode;
  readonly context: ErrorContext;

  constructor(code: ErrorCode, message: string, options: { context?: ErrorContext; cause?: unknown } = {}) {
    super(sanitizeText(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.context = options.context ?? {};
  }
}

/** True when `error` is a {@link TokbenchError}, optionally of the given code. */
export function isTokbenchError(error: unknown, code?: ErrorCode): error is TokbenchError {
  return error instanceof TokbenchError && (code === undefined || error.code === code);
}
