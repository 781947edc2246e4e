import { TokbenchError } from "../errors/TokbenchError.js";

/**
 * Parses a server address given by the user. Throws `URL_INVALID` when it is not a URL or not an
 * http(s) one; the message never quotes the text, which may hold a password.
 *
 * @param text The address, e.g. `http://127.0.0.1:8080/v1`.
 * @param name How the address is called in the message. Defaults to `"the target URL"`.
 */
export function parseHttpUrl(text: string, name = "the target URL"): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new TokbenchError("URL_INVALID", `${name} is not a valid URL`, { cause });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TokbenchError(
      "URL_INVALID",
      `${name} must start with http:// or https://, got ${url.protocol}`,
    );
  }
  return url;
}
