import { TokbenchError } from "../errors/TokbenchError.js";
import { isSecretKey, urlSecrets } from "../secrets/redact.js";
import { assertHttpReachable, REACHABILITY_TIMEOUT_MS } from "./assertHttpReachable.js";
import { ConnectionPool } from "./ConnectionPool.js";
import { parseHttpUrl } from "./parseHttpUrl.js";
import { type HttpStreamOptions, type HttpStreamResult, streamHttp } from "./streamHttp.js";

/** Options of an {@link HttpEndpoint}. */
export interface HttpEndpointOptions {
  /**
   * The server's base URL; must be http(s). A `user:password@` in it is sent as HTTP Basic
   * authentication (`Authorization: Basic ...`), and refused when an API key or an `Authorization`
   * header is given too. Required.
   */
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

/** Whether `text` holds a control character other than tab: in a header it would break the request head. */
function hasControlCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) return true;
  }
  return false;
}

function decodeUserInfo(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch (cause) {
    throw new TokbenchError("URL_INVALID", "the user:password of the URL holds a malformed %-escape", {
      cause,
    });
  }
}

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
   * Texts never to let into a message: the API key, the bearer or basic header, values of
   * credential headers, the URL's password and its credential query values.
   */
  readonly secrets: readonly string[];
  private readonly timeoutMs: number;

  /**
   * Throws `URL_INVALID` when `options.baseUrl` is not an http(s) URL, and `INVALID_ARGUMENT` when
   * a header or the API key holds a line break or another control character (it would end the
   * request head early), or when the URL's user info and an API key or `Authorization` header
   * would both set the credentials.
   */
  constructor(options: HttpEndpointOptions) {
    const base = parseHttpUrl(options.baseUrl, options.urlName);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: options.accept,
      "user-agent": "tokbench",
    };
    const secrets: string[] = urlSecrets(base);
    for (const [name, value] of options.headers ?? []) {
      if (hasControlCharacter(value)) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `the value of header ${name} holds a line break or another control character`,
          { context: { header: name } },
        );
      }
      const key = name.toLowerCase();
      // hasOwn, not `in` or a lookup: a header called `constructor` must not find Object's.
      const repeated = Object.hasOwn(headers, key) && !DEFAULT_HEADERS.has(key);
      headers[key] = repeated ? `${headers[key]}, ${value}` : value;
      if (isSecretKey(name)) secrets.push(value);
    }
    const apiKey = options.apiKey ?? "";
    if (apiKey !== "") {
      if (hasControlCharacter(apiKey) || /\s/.test(apiKey)) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          "the API key holds a space, a line break or another control character: it is not a valid key",
        );
      }
      headers.authorization = `Bearer ${apiKey}`;
      secrets.push(apiKey, headers.authorization);
    }
    if (base.username !== "" || base.password !== "") {
      if (Object.hasOwn(headers, "authorization")) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `the URL's user:password would be sent as Basic authentication, but ${apiKey !== "" ? "an API key" : "an Authorization header"} sets the credentials too: give only one`,
        );
      }
      const credentials = Buffer.from(`${decodeUserInfo(base.username)}:${decodeUserInfo(base.password)}`);
      headers.authorization = `Basic ${credentials.toString("base64")}`;
      secrets.push(headers.authorization, credentials.toString("base64"));
      // From here on the URL is only an address: messages and requests never carry the user info.
      base.username = "";
      base.password = "";
    }
    this.base = base;
    this.headers = headers;
    this.secrets = secrets.filter((secret) => secret !== "");
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

  /**
   * Throws `TARGET_UNREACHABLE` when `GET url` gets no answer within the endpoint's timeout (at
   * most {@link REACHABILITY_TIMEOUT_MS}), `TARGET_AUTH_FAILED` on a 401/403.
   */
  async assertReachable(url: URL): Promise<void> {
    await assertHttpReachable({
      url,
      pool: this.pool,
      headers: this.headers,
      secrets: this.secrets,
      timeoutMs:
        this.timeoutMs > 0 ? Math.min(this.timeoutMs, REACHABILITY_TIMEOUT_MS) : REACHABILITY_TIMEOUT_MS,
    });
  }

  /** Drops the endpoint's idle and open connections. */
  close(): void {
    this.pool.close();
  }
}
