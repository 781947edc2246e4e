import { TokbenchError } from "../errors/TokbenchError.js";
import { redactUrl } from "../secrets/redact.js";
import type { ConnectionPool } from "./ConnectionPool.js";
import { safeExcerpt } from "./httpRequestError.js";
import { streamHttp } from "./streamHttp.js";

/**
 * Sends one `GET url` before a run and throws `TARGET_UNREACHABLE` when nothing answers (refused,
 * unresolvable, timed out) or when the server refuses the credentials (401, 403), which would fail
 * every request of the run. Any other answer, even a 404 from a server without that endpoint,
 * proves the server is there.
 */
export async function assertHttpReachable(options: {
  url: URL;
  pool: ConnectionPool;
  headers: Record<string, string>;
  secrets: readonly string[];
  /** Defaults to 10000. */
  timeoutMs?: number;
}): Promise<void> {
  const where = `GET ${redactUrl(options.url)}`;
  const result = await streamHttp({
    url: options.url,
    headers: { ...options.headers, accept: "application/json" },
    body: null,
    pool: options.pool,
    timeoutMs: options.timeoutMs ?? 10_000,
    onBody: () => true,
  });
  if (result.outcome === "connection_failed" || result.outcome === "timeout") {
    const detail = result.detail === null ? "" : `: ${safeExcerpt(result.detail, options.secrets)}`;
    throw new TokbenchError("TARGET_UNREACHABLE", `no answer from ${where}${detail}`, {
      context: { url: redactUrl(options.url) },
    });
  }
  if (result.status === 401 || result.status === 403) {
    throw new TokbenchError(
      "TARGET_UNREACHABLE",
      `${where} answered HTTP ${result.status}: check the API key (--api-key, --api-key-file, OPENAI_API_KEY)`,
      { context: { url: redactUrl(options.url), status: result.status } },
    );
  }
}
