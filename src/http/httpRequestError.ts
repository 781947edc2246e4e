import type { RequestError } from "../records/RequestObservation.js";
import { redactText } from "../secrets/redact.js";
import type { HttpStreamResult } from "./streamHttp.js";

/**
 * Statuses that mean "slow down" rather than "wrong request": 429 Too Many Requests, and 503, which
 * servers answer when overloaded or still loading (llama.cpp, vLLM), often with a Retry-After.
 * Such requests are recorded as `REQUEST_RATE_LIMITED`, never retried.
 */
const RATE_LIMIT_STATUSES = new Set([429, 503]);

/** Characters of a server's error body quoted in a request error message. */
const EXCERPT_CHARS = 200;

/**
 * Turns text that came from the outside (a response body, a socket error) into a one-line excerpt
 * safe to store: whitespace collapsed, cut to `maxChars`, its secrets removed (`redactText`).
 * Redaction runs before the cut so a key split by the cut cannot leak its first half.
 */
export function safeExcerpt(text: string, secrets: readonly string[], maxChars = EXCERPT_CHARS): string {
  const oneLine = redactText(text, secrets).replace(/\s+/g, " ").trim();
  return oneLine.length > maxChars ? `${oneLine.slice(0, maxChars)}…` : oneLine;
}

/**
 * The request error implied by how an HTTP exchange ended, or null when the transport part went
 * well (the caller still judges the stream's content). `where` names the endpoint, e.g.
 * `POST http://127.0.0.1:8080/v1/chat/completions`.
 */
export function httpRequestError(
  result: HttpStreamResult,
  where: string,
  secrets: readonly string[],
): RequestError | null {
  const detail = result.detail === null ? "" : `: ${safeExcerpt(result.detail, secrets)}`;
  switch (result.outcome) {
    case "connection_failed":
      return {
        code: "REQUEST_CONNECTION_FAILED",
        message: `could not connect to ${where}${detail}`,
        status: null,
      };
    case "timeout":
      return { code: "REQUEST_TIMEOUT", message: `${where} timed out${detail}`, status: result.status };
    case "aborted":
      return {
        code: "REQUEST_STREAM_CUT",
        message: `${where} was aborted by the run`,
        status: result.status,
      };
    case "cut":
      return {
        code: "REQUEST_STREAM_CUT",
        message: `stream from ${where} was cut${detail}`,
        status: result.status,
      };
    case "complete":
    case "stopped":
      if (result.status !== null && result.status >= 400) {
        const body = result.error_body === null ? "" : safeExcerpt(result.error_body, secrets);
        const limited = RATE_LIMIT_STATUSES.has(result.status);
        // Kept as the server sent it (seconds or an HTTP date), cut short in case it is garbage.
        const retryAfter =
          result.retry_after === null ? "" : `, Retry-After: ${safeExcerpt(result.retry_after, secrets, 40)}`;
        return {
          code: limited ? "REQUEST_RATE_LIMITED" : "REQUEST_HTTP_ERROR",
          message: `HTTP ${result.status}${limited ? ` (rate limited${retryAfter})` : ""} from ${where}${body === "" ? "" : `: ${body}`}`,
          status: result.status,
        };
      }
      return null;
  }
}
