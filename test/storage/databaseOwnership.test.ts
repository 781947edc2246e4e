import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { MIGRATIONS } from "../../src/storage/migrations.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { sampleRunResult } from "./fixtures/sampleRun.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-ownership-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function freshPath(): string {
  n++;
  return join(dir, `db-${n}.sqlite`);
}

/** "tokb", written independently of the code under test. */
const TOKB = Buffer.from("tokb").readUInt32BE(0);

/** Everything about a file and its neighbours that "untouched" covers. */
function snapshot(path: string): { bytes: Buffer; mtimeMs: number; siblings: string[] } {
  return {
    bytes: readFileSync(path),
    mtimeMs: statSync(path).mtimeMs,
    siblings: readdirSync(dir)
      .filter((f) => f.startsWith(basename(path)))
      .sort(),
  };
}

function assertRefusedUntouched(path: string, reason: RegExp): void {
  const before = snapshot(path);
  assert.throws(
    () => RunStore.open(path),
    (error: unknown) =>
      isTokbenchError(error, "DB_OPEN_FAILED") && error.message.includes(path) && reason.test(error.message),
  );
  const afterOpen = snapshot(path);
  assert.ok(afterOpen.bytes.equals(before.bytes), "the file's bytes are unchanged");
  assert.equal(afterOpen.mtimeMs, before.mtimeMs, "the file's mtime is unchanged");
  assert.deepEqual(afterOpen.siblings, before.siblings, "no -wal, -shm or -journal file was left beside it");
}

/** Another application's database: a table of its own, in `mode`, closed. */
function foreignDb(
  path: string,
  mode: "delete" | "wal",
  setup = "CREATE TABLE users (id INTEGER, name TEXT)",
): void {
  const db = new Database(path);
  db.pragma(`journal_mode = ${mode}`);
  db.exec(setup);
  db.prepare("INSERT INTO users VALUES (1, 'ada')").run();
  db.close();
}

describe("RunStore.open refuses a database that is not tokbench's, without touching it", () => {
  test("another application's database in rollback-journal mode", () => {
    const path = freshPath();
    foreignDb(path, "delete");
    assertRefusedUntouched(path, /another application's database.*users/);
  });

  test("another application's database in WAL mode, closed (no -wal file)", () => {
    const path = freshPath();
    foreignDb(path, "wal");
    assert.ok(!existsSync(`${path}-wal`));
    assertRefusedUntouched(path, /another application's database.*users/);
  });

  test("another application's database open elsewhere, its new table still only in the WAL", () => {
    const path = freshPath();
    const other = new Database(path);
    try {
      other.pragma("journal_mode = WAL");
      other.pragma("wal_autocheckpoint = 0");
      other.exec("CREATE TABLE orders (id INTEGER)");
      assert.ok(statSync(`${path}-wal`).size > 0);
      const main = readFileSync(path);
      assert.throws(
        () => RunStore.open(path),
        (error: unknown) => isTokbenchError(error, "DB_OPEN_FAILED") && /orders/.test(error.message),
      );
      assert.ok(readFileSync(path).equals(main), "the main file is unchanged");
      assert.deepEqual(
        other.prepare("SELECT name FROM sqlite_schema").pluck().all(),
        ["orders"],
        "their schema is as they left it",
      );
    } finally {
      other.close();
    }
  });

  test("a database with another application id (a GeoPackage), even with no table", () => {
    const path = freshPath();
    const db = new Database(path);
    db.pragma("application_id = 1196444487"); // "GPKG"
    db.close();
    assertRefusedUntouched(path, /another application \(SQLite application_id 0x47504b47\)/);
  });

  test("tokbench's table names plus one of its own, or a lone `runs` table, are not tokbench's", () => {
    const extra = freshPath();
    const db = new Database(extra);
    db.exec(MIGRATIONS[0] as string);
    db.exec("CREATE TABLE notes (t TEXT)");
    db.pragma("user_version = 1");
    db.close();
    assertRefusedUntouched(extra, /notes/);

    const lone = freshPath();
    const db2 = new Database(lone);
    db2.exec("CREATE TABLE runs (id TEXT)");
    db2.close();
    assertRefusedUntouched(lone, /not a tokbench database/);
  });

  test("a schema spread over many pages (interior b-tree pages), and a UTF-16 database", () => {
    const many = freshPath();
    const db = new Database(many);
    db.pragma("page_size = 512");
    db.transaction(() => {
      for (let i = 0; i < 300; i++) db.exec(`CREATE TABLE t_${i}_${"x".repeat(40)} (a, b, c)`);
    })();
    db.close();
    assertRefusedUntouched(many, /t_0_x+, t_1_x+, t_2_x+, \.\.\. \(300\)/);

    const utf16 = freshPath();
    const db16 = new Database(utf16);
    db16.pragma("encoding = 'UTF-16le'");
    db16.exec("CREATE TABLE données (é TEXT)");
    db16.close();
    assertRefusedUntouched(utf16, /données/);
  });

  test("a file that is not SQLite at all", () => {
    const path = freshPath();
    writeFileSync(path, "id,name\n1,ada\n");
    assertRefusedUntouched(path, /not a database/);
  });
});

describe("RunStore.open takes tokbench's own databases and new ones", () => {
  test("a new database carries tokbench's application id ('tokb') in its header", () => {
    const path = freshPath();
    RunStore.open(path).close();
    assert.equal(readFileSync(path).readUInt32BE(68), TOKB);
    assert.equal(TOKB, 0x746f6b62);
  });

  test("an empty file, and a SQLite database with no table, become tokbench databases", () => {
    const empty = freshPath();
    writeFileSync(empty, "");
    const store = RunStore.open(empty);
    store.finishRun(sampleRunResult("r-empty", 2));
    store.close();
    assert.equal(readFileSync(empty).readUInt32BE(68), TOKB);

    const blank = freshPath();
    const db = new Database(blank);
    db.exec("CREATE TABLE scratch (x); DROP TABLE scratch");
    db.close();
    assert.ok(statSync(blank).size > 0);
    RunStore.open(blank).close();
    assert.equal(readFileSync(blank).readUInt32BE(68), TOKB);
  });

  test("a tokbench database written before the application id existed is opened and gets the id", () => {
    const path = freshPath();
    // What tokbench wrote before: the first migration, user_version 1, WAL, no application id.
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    old.exec(MIGRATIONS[0] as string);
    old.pragma("user_version = 1");
    old.close();
    assert.equal(readFileSync(path).readUInt32BE(68), 0);
    const store = RunStore.open(path);
    try {
      store.finishRun(sampleRunResult("r-old", 3));
      assert.equal(store.getRun("r-old").requests.length, 3);
    } finally {
      store.close();
    }
    assert.equal(readFileSync(path).readUInt32BE(68), TOKB);
    RunStore.open(path).close();
  });
});
