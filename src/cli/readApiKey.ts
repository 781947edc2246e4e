import { readFileSync } from "node:fs";
import { TokbenchError } from "../errors/TokbenchError.js";

/**
 * Refuses a key holding whitespace or a control character: it cannot go into an HTTP header, and
 * is most often a paste that took a line break along. The message names where the key came from,
 * never the key.
 */
function checkKey(key: string, source: string): string {
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `the API key from ${source} holds a ${code === 0x0a || code === 0x0d ? "line break" : code === 0x20 ? "space" : "control character"}: it is not a valid key`,
        { context: { source } },
      );
    }
  }
  return key;
}

/**
 * The API key from `--api-key`, else `--api-key-file` (first line), else `OPENAI_API_KEY`; null
 * when none is set. The key is never echoed: errors name the flag or file, not its content.
 * Throws `INVALID_ARGUMENT` for a key with whitespace or control characters in it.
 */
export function readApiKey(flag: string | undefined, file: string | undefined): string | null {
  if (flag !== undefined && flag !== "") return checkKey(flag, "--api-key");
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
    return checkKey(key, `--api-key-file ${file}`);
  }
  const env = process.env.OPENAI_API_KEY;
  return env !== undefined && env !== "" ? checkKey(env, "OPENAI_API_KEY") : null;
}
