/** One dispatched Server-Sent Event. */
export interface SseEvent {
  /** The `data:` lines of the event joined with `"\n"`. */
  data: string;
  /** The `event:` field; `"message"` when the event named none. */
  event: string;
  /** The last event id seen on the stream (it carries over between events, as the spec says); `""` if none. */
  id: string;
}

/** Callbacks of an {@link SseParser}. They run synchronously inside `push()` / `end()`. */
export interface SseParserHandlers {
  /** Called once per dispatched event, in stream order. */
  onEvent(event: SseEvent): void;
  /** Called once per comment line (a line starting with `:`), with the text after the colon. */
  onComment?(text: string): void;
  /** Called when a `retry:` field carries a valid reconnection delay in milliseconds. */
  onRetry?(ms: number): void;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;

/**
 * Incremental, byte-level Server-Sent Events parser (WHATWG `text/event-stream` rules).
 *
 * Feed it the body bytes as they arrive, split anywhere: inside a multi-byte UTF-8 character,
 * between `\r` and `\n`, inside a field name. Lines may end with `\n`, `\r\n` or `\r`. Text is only
 * decoded once a line is complete, so a character split across reads is never mangled, and the
 * scan for line ends runs on bytes (`Buffer.indexOf`), never character by character.
 *
 * Events fire synchronously from `push()`, so the caller knows exactly which read completed each
 * event: that read's arrival time is the event's arrival time.
 *
 * Unlike a browser `EventSource`, `end()` dispatches a final event that lacked its closing blank
 * line, because servers that end the body right after `data: [DONE]\n` are common.
 */
export class SseParser {
  /** Comment lines seen so far. */
  comments = 0;
  /** Events dispatched so far. */
  events = 0;

  private readonly handlers: SseParserHandlers;
  /** Bytes of an incomplete line carried over from earlier pushes. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The previous push ended with `\r`: a `\n` starting the next push belongs to that line end. */
  private skipLeadingLf = false;
  private atStreamStart = true;
  private data = "";
  private dataLines = 0;
  private eventType = "";
  private lastEventId = "";
  private ended = false;

  constructor(handlers: SseParserHandlers) {
    this.handlers = handlers;
  }

  /** Feeds the next bytes of the body. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.ended || buf.length === 0) return;
    if (this.atStreamStart) {
      // The BOM may itself arrive split: wait for three bytes before deciding.
      if (this.pendingBytes + buf.length < 3 && isBomPrefix(this.pending, buf)) {
        this.pending.push(buf);
        this.pendingBytes += buf.length;
        return;
      }
      if (this.pendingBytes > 0) {
        buf = Buffer.concat([...this.pending, buf]);
        this.pending = [];
        this.pendingBytes = 0;
      }
      this.atStreamStart = false;
      if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    let pos = 0;
    const len = buf.length;
    if (this.skipLeadingLf) {
      this.skipLeadingLf = false;
      if (len > 0 && buf[0] === LF) pos = 1;
    }
    // Next positions of each line-end byte, searched lazily so the scan stays linear.
    let nextLf = -2;
    let nextCr = -2;
    while (pos < len) {
      if (nextLf !== -1 && nextLf < pos) nextLf = buf.indexOf(LF, pos);
      if (nextCr !== -1 && nextCr < pos) nextCr = buf.indexOf(CR, pos);
      let eol: number;
      if (nextCr === -1) eol = nextLf;
      else if (nextLf === -1) eol = nextCr;
      else eol = Math.min(nextLf, nextCr);
      if (eol === -1) break;
      let next = eol + 1;
      if (buf[eol] === CR) {
        if (next < len) {
          if (buf[next] === LF) next++;
        } else {
          this.skipLeadingLf = true;
        }
      }
      if (this.pendingBytes > 0) {
        this.pending.push(buf.subarray(pos, eol));
        const line = Buffer.concat(this.pending, this.pendingBytes + eol - pos);
        this.pending = [];
        this.pendingBytes = 0;
        this.processLine(line, 0, line.length);
      } else {
        this.processLine(buf, pos, eol);
      }
      if (this.ended) return;
      pos = next;
    }
    if (pos < len) {
      // Copy: the caller may reuse its buffer after push() returns.
      const rest = Buffer.from(buf.subarray(pos));
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
  }

  /**
   * Signals the end of the body: processes a last line that had no line end and dispatches the
   * last event even without its closing blank line. Further pushes are ignored.
   */
  end(): void {
    if (this.ended) return;
    if (this.atStreamStart && this.pendingBytes > 0) {
      // Fewer than three bytes in the whole stream: strip a complete BOM only.
      this.atStreamStart = false;
      const head = Buffer.concat(this.pending);
      this.pending = [];
      this.pendingBytes = 0;
      this.push(head);
    }
    if (this.pendingBytes > 0) {
      const line = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      this.processLine(line, 0, line.length);
    }
    this.dispatch();
    this.ended = true;
  }

  /** Stops the parser: nothing more is dispatched, even by `end()`. Used after a terminal event. */
  stop(): void {
    this.ended = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private processLine(buf: Buffer, start: number, end: number): void {
    if (start === end) {
      this.dispatch();
      return;
    }
    const first = buf[start];
    if (first === COLON) {
      this.comments++;
      this.handlers.onComment?.(buf.toString("utf8", start + 1, end));
      return;
    }
    // Fast path for the line that matters: "data:".
    if (
      first === 0x64 &&
      end - start >= 5 &&
      buf[start + 1] === 0x61 &&
      buf[start + 2] === 0x74 &&
      buf[start + 3] === 0x61 &&
      buf[start + 4] === COLON
    ) {
      let valueStart = start + 5;
      if (valueStart < end && buf[valueStart] === SPACE) valueStart++;
      this.appendData(buf.toString("utf8", valueStart, end));
      return;
    }
    let colon = buf.indexOf(COLON, start);
    if (colon === -1 || colon >= end) colon = end;
    const field = buf.toString("utf8", start, colon);
    let valueStart = colon + 1;
    if (valueStart < end && buf[valueStart] === SPACE) valueStart++;
    const value = valueStart < end ? buf.toString("utf8", valueStart, end) : "";
    switch (field) {
      case "data":
        this.appendData(value);
        break;
      case "event":
        this.eventType = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^[0-9]+$/.test(value)) this.handlers.onRetry?.(Number(value));
        break;
      default:
        // Unknown fields are ignored, as the spec says.
        break;
    }
  }

  private appendData(value: string): void {
    this.data = this.dataLines === 0 ? value : `${this.data}\n${value}`;
    this.dataLines++;
  }

  private dispatch(): void {
    if (this.dataLines === 0) {
      this.eventType = "";
      return;
    }
    const event: SseEvent = { data: this.data, event: this.eventType || "message", id: this.lastEventId };
    this.data = "";
    this.dataLines = 0;
    this.eventType = "";
    this.events++;
    this.handlers.onEvent(event);
  }
}

function isBomPrefix(pending: readonly Buffer[], buf: Buffer): boolean {
  const bom = [0xef, 0xbb, 0xbf];
  let i = 0;
  for (const part of [...pending, buf]) {
    for (let j = 0; j < part.length; j++) if (part[j] !== bom[i++]) return false;
  }
  return true;
}
