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
  private pendingBytes = 0;
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

  private flush(): void {
    if (this.pending.length === 0) return;
    // Byte offsets: a record's text may hold multi-byte characters (error messages).
    const bytes = Buffer.from(this.pending.join(""), "utf8");
    this.pending = [];
    this.pendingBytes = 0;
    let offset = 0;
    while (offset < bytes.length) {
      offset += writeSync(this.fd, bytes, offset, bytes.length - offset, this.written + offset);
    }
    this.written += bytes.length;
  }
}
