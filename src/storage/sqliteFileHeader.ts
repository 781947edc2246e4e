import { closeSync, openSync, readSync } from "node:fs";

/**
 * What the first 100 bytes of a SQLite database file say (https://sqlite.org/fileformat.html,
 * section 1.3), read with plain file reads: no SQLite connection, so no lock, no journal and no
 * `-wal`/`-shm` file is created beside someone else's database just to look at it.
 */
export interface SqliteFileHeader {
  pageSize: number;
  /** Bytes at the end of each page reserved for extensions. */
  reservedBytes: number;
  /** True when the file is in WAL mode (format versions 2). */
  wal: boolean;
  /** `PRAGMA user_version`. */
  userVersion: number;
  /** `PRAGMA application_id`. */
  applicationId: number;
  /** 1 UTF-8, 2 UTF-16le, 3 UTF-16be (0 in a database with no content yet). */
  textEncoding: number;
}

const MAGIC = "SQLite format 3\u0000";

/** Parses the header, or returns null when `bytes` does not start like a SQLite database. */
export function parseSqliteHeader(bytes: Buffer): SqliteFileHeader | null {
  if (bytes.length < 100 || bytes.toString("latin1", 0, 16) !== MAGIC) return null;
  const raw = bytes.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return null;
  return {
    pageSize,
    reservedBytes: bytes.readUInt8(20),
    wal: bytes.readUInt8(18) === 2 || bytes.readUInt8(19) === 2,
    userVersion: bytes.readInt32BE(60),
    applicationId: bytes.readInt32BE(68),
    textEncoding: bytes.readUInt32BE(56),
  };
}

/** Most b-tree pages of the schema table read before giving up (a real schema has a handful). */
const MAX_SCHEMA_PAGES = 4096;

/** One entry of `sqlite_schema`: `type` (`table`, `index`, `view`, `trigger`) and `name`. */
export interface SchemaEntry {
  type: string;
  name: string;
}

function varint(page: Buffer, at: number): { value: number; next: number } {
  let value = 0;
  for (let i = 0; i < 8; i++) {
    const byte = page[at + i];
    if (byte === undefined) throw new Error("varint past the end of the page");
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) return { value, next: at + i + 1 };
  }
  const last = page[at + 8];
  if (last === undefined) throw new Error("varint past the end of the page");
  return { value: value * 256 + last, next: at + 9 };
}

function decodeText(bytes: Buffer, encoding: number): string {
  if (encoding === 2) return bytes.toString("utf16le");
  if (encoding === 3) return Buffer.from(bytes).swap16().toString("utf16le");
  return bytes.toString("utf8");
}

/**
 * Reads the names in the schema table (`sqlite_schema`, the b-tree rooted at page 1) straight from
 * the main database file. It sees what has been written to that file: in WAL mode, schema changes
 * still in the `-wal` file are not there (callers check those through SQLite when a `-wal` exists).
 * @throws Error when the file is not a readable SQLite b-tree (the caller treats it as foreign).
 */
export function readSqliteSchema(path: string, header: SqliteFileHeader): SchemaEntry[] {
  const fd = openSync(path, "r");
  try {
    const usable = header.pageSize - header.reservedBytes;
    const readPage = (n: number): Buffer => {
      const page = Buffer.alloc(header.pageSize);
      const got = readSync(fd, page, 0, header.pageSize, (n - 1) * header.pageSize);
      if (got < header.pageSize) throw new Error(`page ${n} is past the end of the file`);
      return page;
    };
    const entries: SchemaEntry[] = [];
    const seen = new Set<number>();
    const stack = [1];
    while (stack.length > 0) {
      const n = stack.pop() as number;
      if (seen.has(n) || seen.size >= MAX_SCHEMA_PAGES) throw new Error("schema b-tree loops or is huge");
      seen.add(n);
      const page = readPage(n);
      const start = n === 1 ? 100 : 0;
      const kind = page.readUInt8(start);
      const cells = page.readUInt16BE(start + 3);
      if (kind === 0x05) {
        // Interior table page: children in the cells, then the right-most pointer; pushed last
        // first, so the entries come out in the table's order.
        stack.push(page.readUInt32BE(start + 8));
        for (let i = cells - 1; i >= 0; i--)
          stack.push(page.readUInt32BE(page.readUInt16BE(start + 12 + 2 * i)));
        continue;
      }
      if (kind !== 0x0d) throw new Error(`page ${n} is not a table b-tree page`);
      for (let i = 0; i < cells; i++) {
        const cellAt = page.readUInt16BE(start + 8 + 2 * i);
        const payload = varint(page, cellAt);
        const rowid = varint(page, payload.next);
        // Only the bytes on this page are read: type and name come first in the record, and
        // their (short) text is always there; a record whose name spills over is refused.
        const maxLocal = usable - 35;
        const local =
          payload.value <= maxLocal
            ? payload.value
            : (() => {
                const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
                const k = minLocal + ((payload.value - minLocal) % (usable - 4));
                return k <= maxLocal ? k : minLocal;
              })();
        const record = page.subarray(rowid.next, rowid.next + local);
        const headerSize = varint(record, 0);
        let at = headerSize.next;
        const types: number[] = [];
        while (at < headerSize.value && types.length < 2) {
          const t = varint(record, at);
          types.push(t.value);
          at = t.next;
        }
        let body = headerSize.value;
        const texts: string[] = [];
        for (const t of types) {
          if (t < 13 || t % 2 === 0) throw new Error("schema record without a text type or name");
          const length = (t - 13) / 2;
          if (body + length > record.length) throw new Error("schema name spills to an overflow page");
          texts.push(decodeText(record.subarray(body, body + length), header.textEncoding));
          body += length;
        }
        const [type, name] = texts;
        if (type === undefined || name === undefined) throw new Error("short schema record");
        entries.push({ type, name });
      }
    }
    return entries;
  } finally {
    closeSync(fd);
  }
}
