import { randomUUID } from "node:crypto";
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { RequestLog, RequestLogWriter } from "../results/RequestLog.js";
import type { RequestRecord } from "../results/RequestRecord.js";

/** Bytes of records gathered before one write to the file. */
const WRITE_CHUNK = 1 << 20;
/** Bytes read from the file at a time when the log is read back. */
const READ_CHUNK = 1 << 20;

/**
 * A run's records kept in a temporary file instead of memory, for runs not saved to the database
 * (`--no-save`): one JSON line per record (float64 numbers round-trip exactly through JSON), written
 * in 1 MiB chunks, read back line by line. On Linux and macOS the file is unlinked as soon as it is
 * opened, so nothing is left behind however the process ends; elsewhere {@link close} removes it.
 */
export class SpillFileRequestLog implements RequestLog, RequestLogWriter {
  private readonly fd: number;
  private readonly path: string;
  private unlinked = false;
  private pending: string[] = [];
  private pendingIndexes: number[] = [];
  private pendingBytes = 0;
  /**
   * Where each record is in the file, in the order pushed: its index (the request's), its byte
   * offset and its length. 16 bytes a record, against about a kilobyte for the record as an object:
   * what lets {@link inIndexOrder} sort a million records without holding them.
   */
  private where = { index: new Float64Array(1024), offset: new Float64Array(1024) };
  private written = 0;
  private count = 0;
  private closed = false;

  /** @throws TokbenchError `FILE_UNWRITABLE` when the temporary folder cannot take the file. */
  constructor(folder: string = tmpdir()) {
    this.path = join(folder, `tokbench-requests-${process.pid}-${randomUUID()}.jsonl`);
    try {
      this.fd = openSync(this.path, "w+", 0o600);
    } catch (error) {
      throw new TokbenchError(
        "FILE_UNWRITABLE",
        `cannot create the spill file ${this.path}: ${String(error)}`,
        {
          context: { path: this.path },
          cause: error,
        },
      );
    }
    try {
      unlinkSync(this.path);
      this.unlinked = true;
    } catch {
      // Windows cannot unlink an open file: close() removes it.
    }
  }

  get length(): number {
    return this.count;
  }

  push(record: RequestRecord): void {
    const line = `${JSON.stringify(record)}\n`;
    this.pending.push(line);
    this.pendingIndexes.push(record.index);
    this.pendingBytes += line.length;
    this.count++;
    if (this.pendingBytes >= WRITE_CHUNK) this.flush();
  }

  finish(): SpillFileRequestLog {
    this.flush();
    return this;
  }

  *[Symbol.iterator](): Iterator<RequestRecord> {
    this.flush();
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    let position = 0;
    let carry = "";
    while (position < this.written) {
      const n = readSync(this.fd, buffer, 0, Math.min(READ_CHUNK, this.written - position), position);
      if (n <= 0) break;
      position += n;
      const text = carry + buffer.toString("utf8", 0, n);
      const lines = text.split("\n");
      carry = lines.pop() ?? "";
      for (const line of lines) if (line !== "") yield JSON.parse(line) as RequestRecord;
    }
    if (carry !== "") yield JSON.parse(carry) as RequestRecord;
  }

  /**
   * The records in index order (the order the database gives them back, so `bench --json` into
   * PostgreSQL prints what `show --json` prints), one at a time: sorted by their places in the file,
   * then read back through a window of the file. Records finish nearly in index order, so the window
   * mostly holds the next one.
   */
  *inIndexOrder(): Iterable<RequestRecord> {
    this.flush();
    const n = this.count;
    const { index, offset } = this.where;
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    // Ties (none in a run) keep push order.
    order.sort((a, b) => (index[a] as number) - (index[b] as number) || a - b);
    let window = Buffer.alloc(0);
    let windowStart = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k] as number;
      const start = offset[i] as number;
      const end = i + 1 < n ? (offset[i + 1] as number) : this.written;
      if (start < windowStart || end > windowStart + window.length) {
        const size = Math.min(Math.max(READ_CHUNK, end - start), this.written - start);
        window = Buffer.allocUnsafe(size);
        let got = 0;
        while (got < size) {
          const r = readSync(this.fd, window, got, size - got, start + got);
          if (r <= 0) break;
          got += r;
        }
        window = window.subarray(0, got);
        windowStart = start;
      }
      yield JSON.parse(window.toString("utf8", start - windowStart, end - windowStart - 1)) as RequestRecord;
    }
  }

  toArray(): RequestRecord[] {
    return Array.from(this);
  }

  toJSON(): RequestRecord[] {
    return this.toArray();
  }

  /** Closes (and where still there, removes) the file. The log cannot be read afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    if (!this.unlinked) {
      try {
        unlinkSync(this.path);
      } catch {
        // Already gone.
      }
    }
  }

  /** Room for `n` records' places. */
  private grow(n: number): void {
    if (n <= this.where.index.length) return;
    let size = this.where.index.length;
    while (size < n) size *= 2;
    const index = new Float64Array(size);
    const offset = new Float64Array(size);
    index.set(this.where.index);
    offset.set(this.where.offset);
    this.where = { index, offset };
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    // Byte offsets: a record's text may hold multi-byte characters (error messages).
    const bytes = Buffer.from(this.pending.join(""), "utf8");
    let at = this.written;
    const first = this.count - this.pending.length;
    this.grow(this.count);
    for (let k = 0; k < this.pending.length; k++) {
      this.where.index[first + k] = this.pendingIndexes[k] as number;
      this.where.offset[first + k] = at;
      at += Buffer.byteLength(this.pending[k] as string, "utf8");
    }
    this.pending = [];
    this.pendingIndexes = [];
    this.pendingBytes = 0;
    let offset = 0;
    while (offset < bytes.length) {
      offset += writeSync(this.fd, bytes, offset, bytes.length - offset, this.written + offset);
    }
    this.written += bytes.length;
  }
}
