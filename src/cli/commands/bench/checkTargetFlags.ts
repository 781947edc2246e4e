import { TokbenchError } from "../../../errors/TokbenchError.js";
import { EMBEDDED_OPTIONS } from "./embeddedOptions.js";
import { HTTP_OPTIONS, OPENAI_ONLY_OPTIONS } from "./httpOptions.js";

/** Whether the user gave a flag: yargs leaves a flag without a default undefined (or `[]`) when absent. */
function given(value: unknown): boolean {
  return value !== undefined && !(Array.isArray(value) && value.length === 0);
}

function list(flags: readonly string[]): string {
  return flags.map((flag) => `--${flag}`).join(", ");
}

/**
 * Refuses flags that would do nothing for the target chosen, instead of ignoring them: the
 * embedded-engine flags with `--url`, the server flags without it, and the OpenAI-only flags with
 * `--api ollama`. The lists are the option definitions themselves ({@link EMBEDDED_OPTIONS},
 * {@link HTTP_OPTIONS}), so a flag added to either is checked without another line here.
 * Throws `INVALID_ARGUMENT`, one line naming every such flag.
 */
export function checkTargetFlags(argv: Readonly<Record<string, unknown>>): void {
  checkFlagsForTarget(argv);
  checkDependentFlags(argv);
}

function checkFlagsForTarget(argv: Readonly<Record<string, unknown>>): void {
  if (given(argv.url)) {
    const misplaced = Object.keys(EMBEDDED_OPTIONS).filter((name) => given(argv[name]));
    if (misplaced.length > 0) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `${list(misplaced)} ${misplaced.length === 1 ? "does" : "do"} not apply to a --url target: ${misplaced.length === 1 ? "it configures" : "they configure"} the embedded engine (run without --url to use it)`,
        { context: { flags: misplaced.join(",") } },
      );
    }
    if (argv.api === "ollama") {
      const openAiOnly = OPENAI_ONLY_OPTIONS.filter((name) => given(argv[name]));
      if (openAiOnly.length > 0) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `${list(openAiOnly)} ${openAiOnly.length === 1 ? "does" : "do"} not apply to --api ollama (OpenAI-compatible APIs only)`,
          { context: { flags: openAiOnly.join(",") } },
        );
      }
    }
    return;
  }
  if (argv.api === "ollama") {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--api ollama needs --url, the Ollama server's address (e.g. --url http://127.0.0.1:11434)",
    );
  }
  const misplaced = Object.keys(HTTP_OPTIONS).filter((name) => given(argv[name]));
  if (misplaced.length > 0) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `${list(misplaced)} ${misplaced.length === 1 ? "applies" : "apply"} to server targets only: add --url, or leave ${misplaced.length === 1 ? "it" : "them"} out for the embedded engine`,
      { context: { flags: misplaced.join(",") } },
    );
  }
}

/**
 * Refuses a flag that only qualifies another one when that one is absent: `--trace-level` without
 * `--trace` (no trace is written), `--tag` or `--db` with `--no-save` (no stored run to label or to
 * put anywhere). Each was dropped without a word.
 */
function checkDependentFlags(argv: Readonly<Record<string, unknown>>): void {
  if (given(argv["trace-level"]) && !given(argv.trace)) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--trace-level sets how much --trace writes: give --trace FILE too, or leave it out",
    );
  }
  // TOKBENCH_DB with --no-save is fine: the environment names a default, not a request to store.
  if (given(argv.db) && argv.save === false) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--db names where the run is stored, and --no-save stores none: drop one of them",
    );
  }
  if (given(argv.tag) && argv.save === false) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--tag labels the stored run, and --no-save stores none: drop one of them",
    );
  }
}
