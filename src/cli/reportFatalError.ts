import { isTokbenchError } from "../errors/TokbenchError.js";
import { redactText } from "../secrets/redact.js";

/**
 * Prints a fatal error on one line and exits. A {@link TokbenchError} is the user's problem to
 * fix (bad input, unreachable server): message and code, exit 1. Anything else is a bug in tokbench:
 * exit 70, with the stack only when `TOKBENCH_DEBUG` is set. The message goes through the one
 * redaction last: a URL or credential quoted in it never reaches the terminal.
 */
export function reportFatalError(error: unknown): never {
  if (isTokbenchError(error)) {
    process.stderr.write(`tokbench: ${redactText(error.message)} [${error.code}]\n`);
    process.exit(1);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`tokbench: internal error: ${redactText(message.split("\n")[0] ?? "")}\n`);
  if (process.env.TOKBENCH_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  process.exit(70);
}
