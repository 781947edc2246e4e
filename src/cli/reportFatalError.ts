import type { ErrorCode } from "../errors/ErrorCode.js";
import { isTokbenchError } from "../errors/TokbenchError.js";
import { redactText } from "../secrets/redact.js";
import { sanitizeText } from "../text/sanitizeText.js";
import { STOP_SIGNALS, type StopSignalName, signalExitCode } from "./stopSignals.js";

/** Codes that mean the command line itself is wrong: exit 2, as yargs does for unknown flags. */
const USAGE_ERRORS: ReadonlySet<ErrorCode> = new Set(["INVALID_ARGUMENT", "URL_INVALID"]);

/**
 * Prints a fatal error on one line and exits. A {@link TokbenchError} is the user's problem to
 * fix: a wrong command line (a flag's value, a URL) exits 2, anything else (a missing file, an
 * unreachable server) 1, with the message and the code; a stop signal that ended the work before
 * it produced anything (`RUN_INTERRUPTED` with the signal in its context) 128 + the signal's number,
 * as a stopped run does. Anything else is a bug in tokbench: exit
 * 70, with the stack only when `TOKBENCH_DEBUG` is set. The message goes through the one redaction
 * (a URL or credential quoted in it never reaches the terminal), then through {@link sanitizeText}
 * again: this is the last line before the terminal, and an error from a dependency may quote a
 * file's or a server's bytes.
 */
export function reportFatalError(error: unknown): never {
  if (isTokbenchError(error)) {
    process.stderr.write(`tokbench: ${sanitizeText(redactText(error.message))} [${error.code}]\n`);
    const signal = error.context.signal;
    if (error.code === "RUN_INTERRUPTED" && STOP_SIGNALS.includes(signal as StopSignalName)) {
      process.exit(signalExitCode(signal as StopSignalName));
    }
    process.exit(USAGE_ERRORS.has(error.code) ? 2 : 1);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `tokbench: internal error: ${sanitizeText(redactText(message.split("\n")[0] ?? ""))}\n`,
  );
  if (process.env.TOKBENCH_DEBUG && error instanceof Error) {
    process.stderr.write(`${sanitizeText(redactText(error.stack ?? ""), { multiline: true })}\n`);
  }
  process.exit(70);
}
