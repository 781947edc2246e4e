/**
 * Incremental newline-delimited JSON splitter: feed body bytes split anywhere, get each complete
 * line (without its `\n` or `\r\n`) as text. Lines are decoded only once complete, so a UTF-8
 * character split across reads is never mangled. Blank lines are skipped. Lines are handed over
 * synchronously from `push()`, so the caller knows which read completed each one.
 */
export class NdjsonParser {
  private readonly onLine: (line: string) => void;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private stopped = false;

  constructor(onLine: (line: string) => void) {
    this.onLine = onLine;
  }

  /** Feeds the next bytes of the body. */
  push(buf: Buffer): void {
    let pos = 0;
    while (!this.stopped) {
      const lf = buf.indexOf(0x0a, pos);
      if (lf === -1) break;
      if (this.pendingBytes > 0) {
        this.pending.push(buf.subarray(pos, lf));
        const line = Buffer.concat(this.pending, this.pendingBytes + lf - pos);
        this.pending = [];
        this.pendingBytes = 0;
        this.emit(line, 0, line.length);
      } else {
        this.emit(buf, pos, lf);
      }
      pos = lf + 1;
    }
    if (!this.stopped && pos < buf.length) {
      const rest = Buffer.from(buf.subarray(pos));
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
  }

  /** Hands over a last line that had no trailing newline. */
  end(): void {
    if (this.stopped || this.pendingBytes === 0) return;
    const line = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.emit(line, 0, line.length);
  }

  /** Ignores everything after this call. */
  stop(): void {
    this.stopped = true;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private emit(buf: Buffer, start: number, end: number): void {
    let stop = end;
    if (stop > start && buf[stop - 1] === 0x0d) stop--;
    const line = buf.toString("utf8", start, stop);
    if (line.trim() !== "") this.onLine(line);
  }
}
