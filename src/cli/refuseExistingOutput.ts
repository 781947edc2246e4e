import { existsSync } from "node:fs";
import { TokbenchError } from "../errors/TokbenchError.js";

/**
 * Throws `FILE_EXISTS` when `path` exists and `force` is not set: a command never replaces a file
 * the user may want (a report, an export, a recipe) without being told to, as `synth` and
 * `--trace` already refuse. Checked before the work, so a refusal costs nothing.
 */
export function refuseExistingOutput(path: string, force: boolean | undefined, flag = "out"): void {
  if (force === true || !existsSync(path)) return;
  throw new TokbenchError(
    "FILE_EXISTS",
    `${path} already exists (--force replaces it, or give another --${flag})`,
    {
      context: { path },
    },
  );
}

/** The `--force` option of a command that writes a file. */
export const FORCE_OPTION = {
  type: "boolean",
  default: false,
  description: "Replace the output file when it exists (else it is refused, untouched)",
} as const;
