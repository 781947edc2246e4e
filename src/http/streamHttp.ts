import type { Socket } from "node:net";
import { performance } from "node:perf_hooks";
import type { ConnectionPool, ReadSink } from "./ConnectionPool.js";
import { type ResponseHead, ResponseParseError, ResponseParser } from "./ResponseParser.js";
import { subscribeAbort, unsubscribeAbort } from "./subscribeAbort.js";

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
  /** When the request bytes were handed to the socket. */
  sent_at_ms: number;
  /** Arrival of the socket read that carried the response headers; null when none came. */
  headers_at_ms: number | null;
  status: number | null;
  /** `content-type` of the response, lower-cased; null when none. */
  content_type: string | null;
  /**
   * When the exchange ended: the arrival of the read that completed the body, or when the stop,
   * timeout, abort or failure was seen.
   */
  end_at_ms: number;
  outcome: HttpStreamOutcome;
  /** First {@link ERROR_BODY_LIMIT} bytes of the body of a response with status >= 400, decoded. */
  error_body: string | null;
  /** Low-level error text (e.g. `connect ECONNREFUSED 127.0.0.1:9`) when the outcome is a failure. */
  detail: string | null;
  /** The `retry-after` header of a response with status >= 400, as sent (seconds or an HTTP date); else null. */
  retry_after: string | null;
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
  /** Request headers, names lower-cased; `host` and `content-length` are added. */
  headers: Record<string, string>;
  body: string | null;
  pool: ConnectionPool;
  /** Whole-exchange limit in milliseconds, from send to the end of the body; 0 disables it. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called once when the response headers arrive, with the status and the lower-cased `content-type`. */
  onResponse?(status: number, contentType: string | null, atMs: number): void;
  /**
   * Called for every piece of a body with status < 400, with the arrival time of the socket read
   * it came in and that read's index (one index per socket read, counted per exchange, so pieces
   * sharing an index arrived together). Return `false` to stop reading and drop the connection.
   */
  onBody?(chunk: Buffer, atMs: number, readIndex: number): boolean | undefined;
}

/** Bytes of an error response body kept for the error message. */
export const ERROR_BODY_LIMIT = 4096;

/** Header values must not smuggle a line break into the request head. */
const UNSAFE_HEADER_VALUE = /[\r\n\0]/;

/**
 * Sends one HTTP/1.1 request and streams its response body to `onBody`, timing every socket read.
 *
 * Never rejects: every failure is an outcome. The socket's read callback does nothing but take the
 * arrival time and queue the bytes; parsing (HTTP framing, then the caller's `onBody`, which parses
 * SSE and JSON) runs shortly after in {@link ReadDrain}, in slices that yield to the event loop. So
 * the time a read is stamped with does not depend on how much parsing other streams' reads need:
 * with thousands of concurrent streams, parsing inside the read callback delayed every read queued
 * behind it (bench/harness.ts). All the body pieces of one read share its arrival time and index; a
 * proxy that flushes a whole stream at once therefore shows up as many pieces with one index.
 *
 * A kept-alive socket that the server closed while it sat idle fails before any response byte
 * (llama.cpp's server closes after each stream): such a request is sent again, once, on a new
 * connection, and timed from the new send.
 */
export function streamHttp(options: HttpStreamOptions): Promise<HttpStreamResult> {
  return new Promise((resolve) => new Exchange(options, resolve).start());
}

/** A queued socket event: bytes with their arrival time, or the end of the connection. */
type ReadItem =
  | { bytes: Buffer; at: number; attempt: number }
  | { bytes: null; at: number; attempt: number; error: string | null };

class Exchange {
  readonly options: HttpStreamOptions;
  private readonly resolve: (result: HttpStreamResult) => void;
  private readonly result: HttpStreamResult = {
    sent_at_ms: 0,
    headers_at_ms: null,
    status: null,
    content_type: null,
    end_at_ms: 0,
    outcome: "complete",
    error_body: null,
    detail: null,
    retry_after: null,
  };
  /** Reads not parsed yet, in arrival order; parsed by {@link ReadDrain}. */
  queue: ReadItem[] = [];
  queued = false;
  private socket: Socket | null = null;
  private reused = false;
  private retried = false;
  /** Counts sends, so that what the first connection queued is ignored after a retry. */
  private attempt = 0;
  private parser: ResponseParser | null = null;
  private readAt = 0;
  private readIndex = -1;
  private keepAlive = false;
  private trailingBytes = false;
  private settled = false;
  private timer: NodeJS.Timeout | null = null;
  private errorParts: Buffer[] | null = null;
  private errorBytes = 0;
  private readonly onData: ReadSink = (bytes) => {
    // The hot path: stamp, queue, nothing else.
    this.queue.push({ bytes, at: performance.now(), attempt: this.attempt });
    ReadDrain.schedule(this);
  };
  private readonly onEnd = (): void => this.queueEnd(null);
  private readonly onError = (error: Error): void => this.queueEnd(error.message);
  private readonly onClose = (): void => this.queueEnd(null);
  private readonly onAbort = (): void => {
    this.finish("aborted", "aborted by the caller");
  };

  constructor(options: HttpStreamOptions, resolve: (result: HttpStreamResult) => void) {
    this.options = options;
    this.resolve = resolve;
  }

  start(): void {
    const { options } = this;
    for (const [name, value] of Object.entries(options.headers)) {
      if (UNSAFE_HEADER_VALUE.test(value)) {
        this.result.sent_at_ms = performance.now();
        this.finish("connection_failed", `header ${name} has a line break or NUL in its value`);
        return;
      }
    }
    if (options.timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.finish("timeout", `no complete response within ${options.timeoutMs} ms`);
      }, options.timeoutMs);
    }
    if (options.signal !== undefined) {
      if (options.signal.aborted) {
        queueMicrotask(this.onAbort);
        return;
      }
      subscribeAbort(options.signal, this.onAbort);
    }
    this.send();
  }

  private send(): void {
    const { options } = this;
    const { url } = options;
    const method = options.method ?? (options.body === null ? "GET" : "POST");
    const connection = options.pool.acquire(url);
    this.socket = connection.socket;
    this.reused = connection.reused;
    this.parser = new ResponseParser(
      {
        onHead: (head) => this.onHead(head),
        onBody: (piece) => this.onBodyPiece(piece),
        onComplete: () => this.onComplete(),
      },
      method,
    );
    this.attempt++;
    this.readIndex = -1;
    const socket = connection.socket;
    options.pool.attach(socket, this.onData);
    socket.on("end", this.onEnd);
    socket.on("error", this.onError);
    socket.on("close", this.onClose);
    let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
    for (const [name, value] of Object.entries(options.headers)) {
      if (name !== "host" && name !== "content-length") head += `${name}: ${value}\r\n`;
    }
    if (options.body !== null) head += `content-length: ${Buffer.byteLength(options.body)}\r\n`;
    head += "\r\n";
    this.result.sent_at_ms = performance.now();
    socket.write(options.body === null ? head : head + options.body);
  }

  /** The end of the connection, queued behind the reads that came before it. */
  private queueEnd(error: string | null): void {
    this.queue.push({ bytes: null, at: performance.now(), attempt: this.attempt, error });
    ReadDrain.schedule(this);
  }

  /** Parses one queued item; called by {@link ReadDrain}. */
  process(item: ReadItem): void {
    if (this.settled || item.attempt !== this.attempt) return;
    if (item.bytes !== null) {
      this.readAt = item.at;
      this.readIndex++;
      try {
        const used = this.parser?.execute(item.bytes) ?? 0;
        if (used < item.bytes.length && !this.settled) this.trailingBytes = true;
      } catch (error) {
        this.fail(parseErrorText(error), item.at);
      }
      return;
    }
    const parser = this.parser;
    if (parser?.done === true) return;
    // A reused socket the server had already closed: nothing reached the server, send again.
    if (this.reused && !this.retried && this.readIndex < 0) {
      this.retried = true;
      this.detach(true);
      this.send();
      return;
    }
    if (item.error === null && parser !== null) {
      try {
        parser.finish();
      } catch (error) {
        this.fail(parseErrorText(error), item.at);
      }
      return;
    }
    this.fail(item.error ?? "connection closed before a response", item.at);
  }

  /** Ends a broken exchange: before any response it never connected properly, after one it was cut. */
  private fail(detail: string, at: number): void {
    this.finish(this.result.status === null ? "connection_failed" : "cut", detail, at);
  }

  private onHead(head: ResponseHead): void {
    this.keepAlive = head.keepAlive;
    const result = this.result;
    result.headers_at_ms = this.readAt;
    result.status = head.status;
    const contentType = head.headers.get("content-type");
    result.content_type = contentType === undefined ? null : contentType.toLowerCase();
    if (head.status >= 400) {
      this.errorParts = [];
      result.retry_after = head.headers.get("retry-after") ?? null;
    }
    this.options.onResponse?.(head.status, result.content_type, this.readAt);
  }

  private onBodyPiece(piece: Buffer): void {
    if (this.settled) return;
    if (this.errorParts !== null) {
      if (this.errorBytes < ERROR_BODY_LIMIT) {
        const part = Buffer.from(piece.subarray(0, ERROR_BODY_LIMIT - this.errorBytes));
        this.errorParts.push(part);
        this.errorBytes += part.length;
      }
      return;
    }
    const onBody = this.options.onBody;
    if (onBody !== undefined && onBody(piece, this.readAt, this.readIndex) === false) {
      this.finish("stopped", null);
    }
  }

  private onComplete(): void {
    this.finish("complete", null, this.readAt);
  }

  private finish(outcome: HttpStreamOutcome, detail: string | null, at = performance.now()): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.options.signal !== undefined) unsubscribeAbort(this.options.signal, this.onAbort);
    const result = this.result;
    result.end_at_ms = at;
    result.outcome = outcome;
    result.detail = detail;
    if (this.errorParts !== null) result.error_body = Buffer.concat(this.errorParts).toString("utf8");
    // Reuse only a connection whose response ended exactly where the server said it would.
    this.detach(!(outcome === "complete" && this.keepAlive && !this.trailingBytes));
    this.resolve(result);
  }

  /** Stops listening to the socket and either destroys it or hands it back to the pool. */
  private detach(destroy: boolean): void {
    const socket = this.socket;
    if (socket === null) return;
    this.socket = null;
    this.options.pool.detach(socket, this.onData);
    socket.removeListener("end", this.onEnd);
    socket.removeListener("error", this.onError);
    socket.removeListener("close", this.onClose);
    if (destroy) {
      // A listener stays so a late error on the dying socket is not an uncaught exception.
      socket.on("error", ignore);
      socket.destroy();
    } else {
      this.options.pool.release(this.options.url, socket);
    }
  }
}

function ignore(): void {}

function parseErrorText(error: unknown): string {
  if (error instanceof ResponseParseError) return `malformed HTTP response: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Parses queued socket reads soon after they arrive, in slices of at most {@link SLICE_MS}, from
 * `setImmediate`: between slices the event loop polls the sockets again, so a read waits for at
 * most one slice before it is stamped.
 */
const ReadDrain = {
  pending: [] as Exchange[],
  scheduled: false,
  schedule(exchange: Exchange): void {
    if (!exchange.queued) {
      exchange.queued = true;
      ReadDrain.pending.push(exchange);
    }
    if (!ReadDrain.scheduled) {
      ReadDrain.scheduled = true;
      setImmediate(drain);
    }
  },
};

/** Longest parsing slice before yielding to the event loop, ms. */
const SLICE_MS = 0.25;

function drain(): void {
  ReadDrain.scheduled = false;
  const until = performance.now() + SLICE_MS;
  const pending = ReadDrain.pending;
  let e = 0;
  for (; e < pending.length; e++) {
    const exchange = pending[e] as Exchange;
    const queue = exchange.queue;
    let i = 0;
    while (i < queue.length) {
      exchange.process(queue[i] as ReadItem);
      i++;
      if (performance.now() >= until) break;
    }
    if (i < queue.length) {
      // Out of time: keep the rest of this exchange's reads and every exchange after it.
      exchange.queue = queue.slice(i);
      break;
    }
    exchange.queue = [];
    exchange.queued = false;
  }
  ReadDrain.pending = e >= pending.length ? [] : pending.slice(e);
  if (ReadDrain.pending.length > 0 && !ReadDrain.scheduled) {
    ReadDrain.scheduled = true;
    setImmediate(drain);
  }
}
