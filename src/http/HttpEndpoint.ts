import { isSecretHeader } from "../errors/redactSecrets.js";
import { assertHttpReachable } from "./assertHttpReachable.js";
import { ConnectionPool } from "./ConnectionPool.js";
import { parseHttpUrl } from "./parseHttpUrl.js";
import { type HttpStreamOptions, type HttpStreamResult, streamHttp } from "./streamHttp.js";

/** Options of an {@link HttpEndpoint}. */
export interface HttpEndpointOptions {
  /** The server's base URL; must be http(s). Required. */
  baseUrl: string;
  /** How the base URL is called in a `URL_INVALID` message. Defaults to `"the target URL"`. */
  urlName?: string;
  /** `accept` header of every request, e.g. `text/event-stream`. Required. */
  accept: string;
  /** Sent as `Authorization: Bearer <key>`, over any `authorization` in `headers`. Defaults to none. */
  apiKey?: string | null;
  /**
   * Extra request headers as `[name, value]` pairs, in order. A repeated name is sent once with its
   * values joined by `, ` (RFC 9110 list syntax); a default header (`content-type`, `accept`,
   * `user-agent`) is replaced instead. Defaults to none.
   */
  headers?: readonly (readonly [string, string])[];
  /** Limit per exchange, from send to the end of the body, in milliseconds; 0 disables it. Defaults to 600000. */
  timeoutMs?: number;
}

/** Default of {@link HttpEndpointOptions.timeoutMs}: long enough for a long generation on a slow machine. */
export const DEFAULT_TIMEOUT_MS = 600_000;

/** The headers a user cannot add to, only replace. */
const DEFAULT_HEADERS = new Set(["content-type", "accept", "user-agent"]);

/**
 * The connection side of an HTTP target: its validated base URL, its request headers, the
 * secrets to keep out of every message, and one keep-alive connection pool for all its requests.
 */
export class HttpEndpoint {
  /** The parsed base URL. */
  readonly base: URL;
  /** The keep-alive connections every request of this endpoint goes through. */
  readonly pool: ConnectionPool;
  /** Lower-cased header names to values, sent with every request. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * Texts never to let into a message: the API key, the bearer header, values of credential
   * headers, and the URL's password.
   */
  readonly secrets: readonly string[];
  private readonly timeoutMs: number;

  /** Throws `URL_INVALID` when `options.baseUrl` is not an http(s) URL. */
  constructor(options: HttpEndpointOptions) {
    this.base = parseHttpUrl(options.baseUrl, options.urlName);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: options.accept,
      "user-agent": "tokbench",
    };
    const secrets: string[] = [];
    for (const [name, value] of options.headers ?? []) {
      const key = name.toLowerCase();
      // hasOwn, not `in` or a lookup: a header called `constructor` must not find Object's.
      const repeated = Object.hasOwn(headers, key) && !DEFAULT_HEADERS.has(key);
      headers[key] = repeated ? `${headers[key]}, ${value}` : value;
      if (isSecretHeader(name)) secrets.push(value);
    }
    if (options.apiKey !== undefined && options.apiKey !== null && options.apiKey !== "") {
      headers.authorization = `Bearer ${options.apiKey}`;
      secrets.push(options.apiKey, headers.authorization);
    }
    if (this.base.password !== "") secrets.push(decodeURIComponent(this.base.password));
    this.headers = headers;
    this.secrets = secrets;
    this.pool = new ConnectionPool();
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** A URL on this server: the base URL with its path replaced by `pathname`. */
  url(pathname: string): URL {
    const url = new URL(this.base.href);
    url.pathname = pathname;
    return url;
  }

  /**
   * One exchange through {@link streamHttp} with this endpoint's connections, headers and timeout;
   * `accept` replaces the endpoint's own for this exchange only.
   */
  stream(
    options: Omit<HttpStreamOptions, "pool" | "headers" | "timeoutMs"> & { accept?: string },
  ): Promise<HttpStreamResult> {
    const headers = options.accept === undefined ? this.headers : { ...this.headers, accept: options.accept };
    // Spelled out rather than rest and spread, which gave every request's options object a hidden
    // class of its own (~300 bytes of heap per request in flight).
    return streamHttp({
      url: options.url,
      method: options.method,
      headers,
      body: options.body,
      pool: this.pool,
      timeoutMs: this.timeoutMs,
      signal: options.signal,
      onResponse: options.onResponse,
      onBody: options.onBody,
    });
  }

  /** Throws `TARGET_UNREACHABLE` when `GET url` gets no answer, or a 401/403. */
  async assertReachable(url: URL): Promise<void> {
    await assertHttpReachable({ url, pool: this.pool, headers: this.headers, secrets: this.secrets });
  }

  /** Drops the endpoint's idle and open connections. */
  close(): void {
    this.pool.close();
  }
}
