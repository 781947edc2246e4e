import { closeSync, openSync, readSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { TokbenchError } from "../errors/TokbenchError.js";
import { MIGRATIONS, TOKBENCH_APPLICATION_ID } from "./migrations.js";
import { parseSqliteHeader, readSqliteSchema, type SchemaEntry } from "./sqliteFileHeader.js";

/** What {@link checkDatabaseOwnership} found. */
export type DatabaseOwnership =
  /** No file, an empty file, or a SQLite database with no table yet: tokbench may create its schema. */
  | "new"
  /** tokbench's: its application id is set. */
  | "tokbench"
  /** tokbench's, written before the application id existed: only tokbench's tables; the id is added on open. */
  | "tokbench-without-id";

let knownNames: ReadonlySet<string> | null = null;

/**
 * Every name tokbench's schema has had, over all migrations (tables, indexes, and SQLite's
 * automatic indexes), from the migrations themselves run in memory.
 */
export function tokbenchSchemaNames(): ReadonlySet<string> {
  if (knownNames !== null) return knownNames;
  const names = new Set<string>();
  const db = new Database(":memory:");
  try {
    for (const migration of MIGRATIONS) {
      db.exec(migration);
      for (const row of db.prepare<[], { name: string }>("SELECT name FROM sqlite_schema").all())
        names.add(row.name);
    }
  } finally {
    db.close();
  }
  knownNames = names;
  return names;
}

function refuse(path: string, why: string, context: Record<string, string | number> = {}): never {
  throw new TokbenchError(
    "DB_OPEN_FAILED",
    `${path} ${why}; tokbench leaves it untouched: choose another --db (or TOKBENCH_DB)`,
    { context: { path, ...context } },
  );
}

function hex(id: number): string {
  return `0x${(id >>> 0).toString(16).padStart(8, "0")}`;
}

/** The schema as SQLite sees it, WAL included, through a read-only connection (no file is changed). */
function schemaThroughSqlite(
  path: string,
  busyTimeoutMs: number,
): { applicationId: number; userVersion: number; entries: SchemaEntry[] } {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    const db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
    try {
      return db.transaction(() => ({
        applicationId: db.pragma("application_id", { simple: true }) as number,
        userVersion: db.pragma("user_version", { simple: true }) as number,
        entries: db.prepare<[], SchemaEntry>("SELECT type, name FROM sqlite_schema").all(),
      }))();
    } catch (error) {
      // A reader can get SQLITE_BUSY without waiting while another connection recovers the WAL.
      const code = String((error as { code?: unknown }).code ?? "");
      if (!code.startsWith("SQLITE_BUSY") || Date.now() >= deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    } finally {
      db.close();
    }
  }
}

function hasWal(path: string): boolean {
  try {
    return statSync(`${path}-wal`).size > 0;
  } catch {
    return false;
  }
}

/**
 * Decides, before tokbench opens `path` for writing, whether the file is tokbench's to use, and
 * refuses it otherwise, without changing it: no table, no pragma that writes, no switch to WAL, no
 * lock file. A file that is missing or empty is new; a SQLite file is tokbench's when its
 * application id is {@link TOKBENCH_APPLICATION_ID}, or (a database written before the id
 * existed) when it has no application id and only tables tokbench creates; a SQLite database with
 * no table at all is new. Anything else (another application id, other tables, not SQLite) is
 * refused.
 *
 * The file's header and schema pages are read with plain file reads. Only when a `-wal` file sits
 * beside a database with no application id in its main file (its latest schema may be in the
 * WAL) is it read through a read-only SQLite connection, which writes nothing.
 * @throws TokbenchError `DB_OPEN_FAILED` naming the path and the reason.
 */
export function checkDatabaseOwnership(path: string, busyTimeoutMs = 5000): DatabaseOwnership {
  // Plain reads take no lock: another process may be creating or checkpointing the same file
  // meanwhile (two runs started together), and the header and the schema can then be read from
  // two different moments. A refusal only stands if the file did not change while it was looked at.
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    const before = fileState(path);
    try {
      return classify(path, busyTimeoutMs);
    } catch (error) {
      if (fileState(path) === before || Date.now() >= deadline) throw error;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

/** Size, modification time and header of the file and its `-wal`: changes whenever SQLite writes them. */
function fileState(path: string): string {
  const parts: string[] = [];
  for (const file of [path, `${path}-wal`]) {
    try {
      const stat = statSync(file, { bigint: true });
      parts.push(`${stat.size}:${stat.mtimeNs}`);
    } catch {
      parts.push("-");
    }
  }
  try {
    const fd = openSync(path, "r");
    try {
      const head = Buffer.alloc(100);
      readSync(fd, head, 0, 100, 0);
      parts.push(head.toString("hex"));
    } finally {
      closeSync(fd);
    }
  } catch {
    parts.push("-");
  }
  return parts.join("|");
}

function classify(path: string, busyTimeoutMs: number): DatabaseOwnership {
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) refuse(path, "is a directory, not a database file");
    size = stat.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "new";
    throw error;
  }
  if (size === 0) return "new";
  const head = Buffer.alloc(100);
  const fd = openSync(path, "r");
  let got: number;
  try {
    got = readSync(fd, head, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  const header = parseSqliteHeader(head.subarray(0, got));
  if (header === null) refuse(path, "is not a database (it does not start with SQLite's header)");
  if (header.applicationId === TOKBENCH_APPLICATION_ID) return "tokbench";
  if (header.applicationId !== 0) {
    refuse(path, `belongs to another application (SQLite application_id ${hex(header.applicationId)})`, {
      application_id: header.applicationId,
    });
  }
  let view: { applicationId: number; userVersion: number; entries: SchemaEntry[] };
  try {
    view = hasWal(path)
      ? schemaThroughSqlite(path, busyTimeoutMs)
      : { applicationId: 0, userVersion: header.userVersion, entries: readSqliteSchema(path, header) };
  } catch (error) {
    refuse(
      path,
      `is not a database tokbench can read (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (view.applicationId === TOKBENCH_APPLICATION_ID) return "tokbench";
  if (view.applicationId !== 0) {
    refuse(path, `belongs to another application (SQLite application_id ${hex(view.applicationId)})`, {
      application_id: view.applicationId,
    });
  }
  const names = view.entries.map((e) => e.name);
  if (names.length === 0 && view.userVersion === 0) return "new";
  const known = tokbenchSchemaNames();
  const foreign = names.filter((name) => !known.has(name));
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? `, ... (${foreign.length})` : "");
    refuse(path, `is another application's database (tables tokbench does not create: ${shown})`);
  }
  if (!names.includes("runs") || view.userVersion < 1) {
    refuse(
      path,
      `is not a tokbench database (user_version ${view.userVersion}, tables: ${names.join(", ") || "none"})`,
    );
  }
  return "tokbench-without-id";
}
