import { readFileSync } from "node:fs";
import { TokbenchError } from "../errors/TokbenchError.js";

/**
 * The API key from `--api-key`, else `--api-key-file` (first line), else `OPENAI_API_KEY`; null
 * when none is set. The key is never echoed: errors name the file, not its content.
 */
export function readApiKey(flag: string | undefined, file: string | undefined): string | null {
  if (flag !== undefined && flag !== "") return flag;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (cause) {
      throw new TokbenchError(
        "FILE_UNREADABLE",
        `cannot read --api-key-file ${file}: ${(cause as Error).message}`,
        {
          context: { path: file },
          cause,
        },
      );
    }
    const key = text.split(/\r?\n/)[0]?.trim() ?? "";
    if (key === "")
      throw new TokbenchError("INVALID_ARGUMENT", `--api-key-file ${file} is empty`, {
        context: { path: file },
      });
    return key;
  }
  const env = process.env.OPENAI_API_KEY;
  return env !== undefined && env !== "" ? env : null;
}
