import { existsSync, readdirSync } from "node:fs";
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

/**
 * Throws `FILE_EXISTS` when folder `dir` already holds files ending in `extension` and `force` is
 * not set: for outputs whose names are only known once written (`report --png DIR`, one file per
 * chart), a folder that holds any such file is refused as a whole, before the work, so no file of
 * an earlier run is replaced. A folder not there yet is fine (it is created).
 */
export function refuseFilledFolder(
  dir: string,
  extension: string,
  force: boolean | undefined,
  flag: string,
): void {
  if (force === true || !existsSync(dir)) return;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    // Not a folder, or unreadable: the writer says why, in its own words.
    return;
  }
  const found = names.filter((n) => n.endsWith(extension)).length;
  if (found === 0) return;
  throw new TokbenchError(
    "FILE_EXISTS",
    `${dir} already holds ${found} ${extension} file${found === 1 ? "" : "s"} (--force replaces them, or give another --${flag})`,
    { context: { path: dir } },
  );
}

/** The `--force` option of a command that writes a file. */
export const FORCE_OPTION = {
  type: "boolean",
  default: false,
  description: "Replace the output file when it exists (else it is refused, untouched)",
} as const;
