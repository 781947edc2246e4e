import { TokbenchError } from "../errors/TokbenchError.js";
import { redactUrl } from "../secrets/redact.js";
import { sanitizeText } from "../text/sanitizeText.js";

/**
 * Parses a server address given by the user. Throws `URL_INVALID` when it is not a URL or not an
 * http(s) one; the message quotes the text only through the one redaction, as it may hold a password.
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
    if (!text.includes("://")) {
      // `localhost:8080/v1` parses as the scheme "localhost:"; "got localhost:" misled. The
      // suggestion goes through the one redaction: it is the user's text.
      throw new TokbenchError(
        "URL_INVALID",
        `${name} must start with http:// or https:// (did you mean ${sanitizeText(redactUrl(`http://${text}`))}?)`,
      );
    }
    throw new TokbenchError(
      "URL_INVALID",
      `${name} must start with http:// or https://, got ${url.protocol}`,
    );
  }
  return url;
}
