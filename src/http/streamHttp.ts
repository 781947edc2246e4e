import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";

/** How an HTTP exchange ended. */
export type HttpStreamOutcome =
  /** The whole body arrived. */
  | "complete"
  /** The body handler asked to stop reading; the connection was dropped. */
  | "stopped"
  /** The request timeout fired first. */
  | "timeout"
  /** The caller's abort signal fired first. */
  | "aborted"
  /** No response came: refused, unreachable, reset before the headers. */
  | "connection_failed"
  /** The response started but its body broke off. */
  | "cut";

/** What {@link streamHttp} saw, as raw `performance.now()` timestamps. */
export interface HttpStreamResult {
  /** When the request was handed to node:http. */
  sent_at_ms: number;
  /** Arrival of the socket read that carried the response headers; null when none came. */
  headers_at_ms: number | null;
  status: number | null;
  /** `content-type` of the response, lower-cased; null when none. */
  content_type: string | null;
  /** When the exchange ended (body end, stop, timeout, abort or failure). */
  end_at_ms: number;
  outcome: HttpStreamOutcome;
  /** First {@link ERROR_BODY_LIMIT} bytes of the body of a response with status >= 400, decoded. */
  error_body: string | null;
  /** Low-level error text (e.g. `connect ECONNREFUSED 127.0.0.1:9`) when the outcome is a failure. */
  detail: string | null;
}

/** Whether the whole body of a response with status < 400 arrived, so a parser may flush what it holds. */
export function bodyComplete(result: HttpStreamResult): boolean {
  return result.outcome === "complete" && (result.status ?? 0) < 400;
}

/** Options of one {@link streamHttp} exchange. */
export interface HttpStreamOptions {
  url: URL;
  /** Defaults to `POST` when a body is given, else `GET`. */
  method?: string;
  headers: Record<string, string>;
  body: string | null;
  agent: http.Agent;
  /** Whole-exchange limit in milliseconds, from send to the end of the body; 0 disables it. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called once when the response headers arrive, with the status and the lower-cased `content-type`. */
  onResponse?(status: number, contentType: string | null, atMs: number): void;
  /**
   * Called for every piece of a body with status < 400, with the arrival time of the socket read
   * it came in and that read's index (one index per socket `data` event, counted per exchange, so
   * pieces sharing an index arrived together). Return `false` to stop reading and drop the
   * connection.
   */
  onBody?(chunk: Buffer, atMs: number, readIndex: number): boolean | undefined;
}

/** Bytes of an error response body kept for the error message. */
export const ERROR_BODY_LIMIT = 4096;

/**
 * Creates the keep-alive agent HTTP targets share: no limit on sockets (a run may hold thousands
 * of concurrent streams) and no limit on idle ones, so a burst does not end in reconnect churn.
 */
export function createStreamingAgent(protocol: string): http.Agent {
  const options: http.AgentOptions = { keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1_000_000 };
  return protocol === "https:" ? new https.Agent(options) : new http.Agent(options);
}

/**
 * Sends one HTTP request and streams its response body to `onBody`, timing every socket read.
 *
 * Never rejects: every failure is an outcome. Timing is taken once per socket `data` event (a
 * listener placed before node's HTTP parser), so all the body pieces the parser produces from one
 * read share that read's arrival time and index; a proxy that flushes a whole stream at once
 * therefore shows up as many pieces with one index.
 */
export function streamHttp(options: HttpStreamOptions): Promise<HttpStreamResult> {
  return new Promise((resolve) => {
    const { url, body, onBody } = options;
    const transport = url.protocol === "https:" ? https : http;
    let readAt = 0;
    let readIndex = -1;
    let socket: Socket | null = null;
    let settled = false;
    let timer: NodeJS.Timeout | null = null;
    let errorParts: Buffer[] | null = null;
    let errorBytes = 0;
    const result: HttpStreamResult = {
      sent_at_ms: 0,
      headers_at_ms: null,
      status: null,
      content_type: null,
      end_at_ms: 0,
      outcome: "complete",
      error_body: null,
      detail: null,
    };

    const onSocketData = (): void => {
      readAt = performance.now();
      readIndex++;
    };
    const finish = (outcome: HttpStreamOutcome, detail: string | null, at = performance.now()): void => {
      if (settled) return;
      settled = true;
      if (timer !== null) clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket?.removeListener("data", onSocketData);
      result.end_at_ms = at;
      result.outcome = outcome;
      result.detail = detail;
      if (errorParts !== null) result.error_body = Buffer.concat(errorParts).toString("utf8");
      resolve(result);
    };
    const onAbort = (): void => {
      finish("aborted", "aborted by the caller");
      req.destroy();
    };

    const headers: Record<string, string> = { ...options.headers };
    if (body !== null) headers["content-length"] = String(Buffer.byteLength(body));
    let req: http.ClientRequest;
    const send = (retry: boolean): void => {
      result.sent_at_ms = performance.now();
      const attempt = transport.request(url, {
        method: options.method ?? (body === null ? "GET" : "POST"),
        headers,
        agent: options.agent,
      });
      req = attempt;
      attempt.on("socket", (s: Socket) => {
        socket = s;
        s.setNoDelay(true);
        // Before node's own listener, so the stamp is taken before the parser emits the body.
        s.prependListener("data", onSocketData);
      });
      attempt.on("error", (error: Error) => {
        // A kept-alive socket the server closed while it sat idle fails before any response
        // (llama.cpp's server closes after each stream). Nothing reached the server: send again,
        // once, and time the request from the new send.
        if (!retry && !settled && attempt.reusedSocket && result.status === null && readIndex < 0) {
          socket?.removeListener("data", onSocketData);
          socket = null;
          send(true);
          return;
        }
        if (result.status === null) finish("connection_failed", error.message);
        else finish("cut", error.message);
      });
      attempt.on("response", (res: http.IncomingMessage) => {
        const at = readIndex >= 0 ? readAt : performance.now();
        result.headers_at_ms = at;
        result.status = res.statusCode ?? 0;
        const contentType = res.headers["content-type"];
        result.content_type = contentType === undefined ? null : contentType.toLowerCase();
        if (result.status >= 400) errorParts = [];
        options.onResponse?.(result.status, result.content_type, at);
        res.on("data", (chunk: Buffer) => {
          if (settled) return;
          if (errorParts !== null) {
            if (errorBytes < ERROR_BODY_LIMIT) {
              const part = chunk.subarray(0, ERROR_BODY_LIMIT - errorBytes);
              errorParts.push(part);
              errorBytes += part.length;
            }
            return;
          }
          if (
            onBody !== undefined &&
            onBody(chunk, readIndex >= 0 ? readAt : performance.now(), readIndex) === false
          ) {
            finish("stopped", null);
            req.destroy();
          }
        });
        res.on("end", () => finish("complete", null));
        res.on("error", (error: Error) => finish("cut", error.message));
        res.on("close", () => finish("cut", "connection closed before the end of the body"));
      });
      attempt.end(body ?? undefined);
    };
    if (options.timeoutMs > 0) {
      timer = setTimeout(() => {
        finish("timeout", `no complete response within ${options.timeoutMs} ms`);
        req.destroy();
      }, options.timeoutMs);
    }
    if (options.signal !== undefined) {
      if (options.signal.aborted) {
        queueMicrotask(onAbort);
      } else {
        options.signal.addEventListener("abort", onAbort, { once: true });
      }
    }
    send(false);
  });
}
