import { TokbenchError } from "../errors/TokbenchError.js";
import { redactUrl } from "../secrets/redact.js";
import type { ConnectionPool } from "./ConnectionPool.js";
import { safeExcerpt } from "./httpRequestError.js";
import { streamHttp } from "./streamHttp.js";

/** Longest wait of the reachability check: a live server answers it at once. */
export const REACHABILITY_TIMEOUT_MS = 10_000;

/**
 * Sends one `GET url` before a run and throws `TARGET_UNREACHABLE` when nothing answers (refused,
 * unresolvable, timed out), or `TARGET_AUTH_FAILED` when the server refuses the credentials (401,
 * 403), which would fail every request of the run. Any other answer, even a 404 from a server
 * without that endpoint, proves the server is there.
 */
export async function assertHttpReachable(options: {
  url: URL;
  pool: ConnectionPool;
  headers: Record<string, string>;
  secrets: readonly string[];
  /** Defaults to {@link REACHABILITY_TIMEOUT_MS}. */
  timeoutMs?: number;
}): Promise<void> {
  const where = `GET ${redactUrl(options.url)}`;
  const timeoutMs = options.timeoutMs ?? REACHABILITY_TIMEOUT_MS;
  const result = await streamHttp({
    url: options.url,
    headers: { ...options.headers, accept: "application/json" },
    body: null,
    pool: options.pool,
    timeoutMs,
    onBody: () => true,
  });
  if (result.outcome === "connection_failed" || result.outcome === "timeout") {
    const detail =
      result.outcome === "timeout"
        ? ` within ${timeoutMs / 1000} s`
        : result.detail === null
          ? ""
          : `: ${safeExcerpt(result.detail, options.secrets)}`;
    throw new TokbenchError("TARGET_UNREACHABLE", `no answer from ${where}${detail}`, {
      context: { url: redactUrl(options.url) },
    });
  }
  if (result.status === 401 || result.status === 403) {
    const body = result.error_body === null ? "" : safeExcerpt(result.error_body, options.secrets);
    throw new TokbenchError(
      "TARGET_AUTH_FAILED",
      `authentication failed: ${where} answered HTTP ${result.status}${body === "" ? "" : ` (${body})`}; check the credentials (--api-key, --api-key-file, OPENAI_API_KEY, the URL's user:password)`,
      { context: { url: redactUrl(options.url), status: result.status } },
    );
  }
}
