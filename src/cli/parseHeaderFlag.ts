import { TokbenchError } from "../errors/TokbenchError.js";

/**
 * Parses a `--header "Name: value"` flag into a `[name, value]` pair. Throws `INVALID_ARGUMENT`
 * when there is no colon or the name is not a valid HTTP token; the message never quotes the
 * value, which may be a credential.
 */
export function parseHeaderFlag(flag: string): [string, string] {
  const colon = flag.indexOf(":");
  const name = colon === -1 ? "" : flag.slice(0, colon).trim();
  if (colon === -1 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new TokbenchError("INVALID_ARGUMENT", 'a --header must look like "Name: value"', {
      context: { name: name === "" ? null : name },
    });
  }
  return [name, flag.slice(colon + 1).trim()];
}
