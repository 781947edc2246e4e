/** Status line and headers of an HTTP/1.x response. */
export interface ResponseHead {
  status: number;
  /** Lower-cased names; a repeated header's values joined with `, `. */
  headers: Map<string, string>;
  /** Whether the connection may carry another request once this response's body is complete. */
  keepAlive: boolean;
}

/** What {@link ResponseParser} reports, synchronously, while it is fed. */
export interface ResponseParserHandlers {
  /** The final (non-1xx) response head. */
  onHead(head: ResponseHead): void;
  /** A piece of the decoded body (chunked framing removed). A view into the fed buffer. */
  onBody(piece: Buffer): void;
  /** The body is complete; nothing more will be reported. */
  onComplete(): void;
}

/** Malformed response bytes; the connection cannot be trusted any further. */
export class ResponseParseError extends Error {
  override readonly name = "ResponseParseError";
}

/** Largest response head accepted: a defence against a peer that never ends its headers. */
export const MAX_HEAD_BYTES = 80 * 1024;

const CR = 0x0d;
const LF = 0x0a;

type State =
  | "head"
  | "length"
  | "chunk-size"
  | "chunk-ext"
  | "chunk-data"
  | "chunk-data-end"
  | "trailers"
  | "until-close"
  | "done";

/**
 * Incremental HTTP/1.1 response parser: status line and headers, then the body framed by
 * `Transfer-Encoding: chunked`, `Content-Length`, or the end of the connection (RFC 9112 §6.3),
 * for input split at any byte. 1xx interim responses are skipped.
 *
 * Written for tokbench's client rather than taken from node:http because the client needs the
 * parsing to happen when it chooses (after it has timestamped every socket read, see `streamHttp`),
 * not inside the socket's read callback.
 */
export class ResponseParser {
  private readonly handlers: ResponseParserHandlers;
  private readonly requestMethod: string;
  private state: State = "head";
  private headParts: Buffer[] = [];
  private headBytes = 0;
  private remaining = 0;
  private sizeDigits = 0;
  private lineBytes = 0;
  private sawHead = false;

  /** @param requestMethod The request's method: a response to HEAD has no body. */
  constructor(handlers: ResponseParserHandlers, requestMethod = "GET") {
    this.handlers = handlers;
    this.requestMethod = requestMethod.toUpperCase();
  }

  /** Whether the body is complete. */
  get done(): boolean {
    return this.state === "done";
  }

  /** Whether a final response head was parsed. */
  get headParsed(): boolean {
    return this.sawHead;
  }

  /**
   * Parses `buf`. Returns how many bytes belong to this response: fewer than `buf.length` only
   * when the body completed and more bytes followed (which the caller should treat as a protocol
   * error: tokbench never pipelines). Throws {@link ResponseParseError} on malformed input.
   */
  execute(buf: Buffer): number {
    let i = 0;
    const n = buf.length;
    while (i < n) {
      switch (this.state) {
        case "head": {
          i = this.readHead(buf, i);
          break;
        }
        case "length": {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          this.handlers.onBody(buf.subarray(i, i + take));
          i += take;
          if (this.remaining === 0) this.complete();
          break;
        }
        case "until-close": {
          this.handlers.onBody(i === 0 ? buf : buf.subarray(i));
          i = n;
          break;
        }
        case "chunk-size": {
          const c = buf[i++] as number;
          const digit = hexValue(c);
          if (digit >= 0) {
            if (++this.sizeDigits > 13) throw new ResponseParseError("chunk size too large");
            this.remaining = this.remaining * 16 + digit;
          } else if (this.sizeDigits === 0) {
            throw new ResponseParseError(`invalid chunk size byte 0x${c.toString(16)}`);
          } else if (c === LF) {
            this.endChunkSize();
          } else if (c === CR || c === 0x3b /* ; */ || c === 0x20 || c === 0x09) {
            this.state = "chunk-ext";
          } else {
            throw new ResponseParseError(`invalid chunk size byte 0x${c.toString(16)}`);
          }
          break;
        }
        case "chunk-ext": {
          // Extensions are ignored; the line ends at LF.
          const lf = buf.indexOf(LF, i);
          if (lf < 0) {
            this.lineBytes += n - i;
            if (this.lineBytes > MAX_HEAD_BYTES) throw new ResponseParseError("chunk extension too long");
            i = n;
          } else {
            i = lf + 1;
            this.lineBytes = 0;
            this.endChunkSize();
          }
          break;
        }
        case "chunk-data": {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          this.handlers.onBody(buf.subarray(i, i + take));
          i += take;
          if (this.remaining === 0) this.state = "chunk-data-end";
          break;
        }
        case "chunk-data-end": {
          const c = buf[i++] as number;
          if (c === LF) this.state = "chunk-size";
          else if (c !== CR) throw new ResponseParseError("chunk data not followed by CRLF");
          break;
        }
        case "trailers": {
          // Trailer lines until an empty one; their content is ignored.
          const c = buf[i++] as number;
          if (c === LF) {
            if (this.lineBytes === 0) {
              this.complete();
            }
            this.lineBytes = 0;
          } else if (c !== CR) {
            if (++this.lineBytes > MAX_HEAD_BYTES) throw new ResponseParseError("trailer too long");
          }
          break;
        }
        case "done":
          return i;
      }
    }
    return n;
  }

  /**
   * The connection ended (the peer closed it). Completes a body delimited by the close; throws
   * {@link ResponseParseError} when the response was cut short.
   */
  finish(): void {
    if (this.state === "until-close") {
      this.complete();
      return;
    }
    if (this.state !== "done") {
      throw new ResponseParseError(
        this.sawHead ? "connection closed before the end of the body" : "connection closed before a response",
      );
    }
  }

  private complete(): void {
    this.state = "done";
    this.handlers.onComplete();
  }

  private endChunkSize(): void {
    const size = this.remaining;
    this.sizeDigits = 0;
    if (size === 0) {
      this.state = "trailers";
      this.lineBytes = 0;
    } else {
      this.state = "chunk-data";
    }
  }

  /** Collects head bytes up to the empty line; returns the index after what it consumed. */
  private readHead(buf: Buffer, start: number): number {
    // The end of the head may straddle reads: the search looks at the last bytes already held.
    const end = findHeadEnd(this.headParts, buf, start);
    if (end < 0) {
      this.headParts.push(start === 0 ? buf : buf.subarray(start));
      this.headBytes += buf.length - start;
      if (this.headBytes > MAX_HEAD_BYTES) throw new ResponseParseError("response head too large");
      return buf.length;
    }
    this.headParts.push(buf.subarray(start, end));
    const text = (
      this.headParts.length === 1 ? (this.headParts[0] as Buffer) : Buffer.concat(this.headParts)
    ).toString("latin1");
    this.headParts = [];
    this.headBytes = 0;
    this.onHeadText(text);
    return end;
  }

  private onHeadText(text: string): void {
    const lines = text.split("\n").map((line) => (line.endsWith("\r") ? line.slice(0, -1) : line));
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    const statusLine = lines[0] ?? "";
    const match = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(statusLine);
    if (match === null) {
      throw new ResponseParseError(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
    }
    const minor = match[1];
    const status = Number(match[2]);
    const headers = new Map<string, string>();
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k] as string;
      const colon = line.indexOf(":");
      if (colon <= 0)
        throw new ResponseParseError(`malformed header line: ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const previous = headers.get(name);
      headers.set(name, previous === undefined ? value : `${previous}, ${value}`);
    }
    if (status >= 100 && status < 200 && status !== 101) {
      // Interim response (100 Continue, 103 Early Hints): the final one follows.
      return;
    }
    this.sawHead = true;
    const connection = (headers.get("connection") ?? "").toLowerCase();
    let keepAlive = minor === "1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
    const transferEncoding = headers.get("transfer-encoding");
    const contentLength = headers.get("content-length");
    let next: State;
    if (this.requestMethod === "HEAD" || status === 204 || status === 304) {
      next = "done";
    } else if (transferEncoding !== undefined) {
      const codings = transferEncoding.toLowerCase().split(",");
      if (codings[codings.length - 1]?.trim() === "chunked") {
        next = "chunk-size";
        this.remaining = 0;
        this.sizeDigits = 0;
      } else {
        next = "until-close";
      }
    } else if (contentLength !== undefined) {
      // Repeated identical values ("5, 5") are allowed; different ones are not.
      const values = new Set(contentLength.split(",").map((v) => v.trim()));
      const only = values.size === 1 ? [...values][0] : undefined;
      if (only === undefined || !/^\d{1,15}$/.test(only)) {
        throw new ResponseParseError(`invalid content-length: ${JSON.stringify(contentLength.slice(0, 40))}`);
      }
      this.remaining = Number(only);
      next = this.remaining === 0 ? "done" : "length";
    } else {
      next = "until-close";
    }
    if (next === "until-close") keepAlive = false;
    this.state = next === "done" ? "head" : next;
    this.handlers.onHead({ status, headers, keepAlive });
    if (next === "done") this.complete();
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Index in `buf` just after the head's terminating empty line (`\r\n\r\n` or `\n\n`), counting the
 * bytes already held in `held`; -1 when it has not arrived.
 */
function findHeadEnd(held: Buffer[], buf: Buffer, start: number): number {
  // Bytes before `start` in this call: the tail of what is held (at most 3 matter).
  const tail: number[] = [];
  for (let p = held.length - 1; p >= 0 && tail.length < 2; p--) {
    const part = held[p] as Buffer;
    for (let q = part.length - 1; q >= 0 && tail.length < 2; q--) tail.unshift(part[q] as number);
  }
  // The two bytes before index i, across reads.
  let prev1 = tail.length >= 1 ? (tail[tail.length - 1] as number) : -1;
  let prev2 = tail.length >= 2 ? (tail[tail.length - 2] as number) : -1;
  for (let i = start; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c === LF && (prev1 === LF || (prev1 === CR && prev2 === LF))) return i + 1;
    prev2 = prev1;
    prev1 = c;
  }
  return -1;
}
