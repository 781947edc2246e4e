import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { startMock } from "../targets/loopbackServers.js";
import { runCli } from "./runCli.js";

describe("bench --db on another application's SQLite file", () => {
  let dir: string;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-foreign-db-"));
    url = `${(await startMock({ ttftMs: 1, itlMs: 1 })).mock.url}/v1`;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const mode of ["delete", "wal"] as const) {
    it(`is refused before the run, and the file is left exactly as it was (${mode} journal)`, async () => {
      const path = join(dir, `their-${mode}.db`);
      const theirs = new Database(path);
      theirs.pragma(`journal_mode = ${mode}`);
      theirs.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)");
      theirs.prepare("INSERT INTO customers (email) VALUES (?)").run("ada@example.com");
      theirs.close();
      const bytes = await readFile(path);
      const mtime = (await stat(path, { bigint: true })).mtimeNs;
      const files = await readdir(dir);

      const run = await runCli(["bench", "--url", url, "--model", "m", "-n", "2", "--db", path]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        /another application's database \(tables tokbench does not create: customers\)/,
      );
      assert.match(run.stderr, /DB_OPEN_FAILED/);
      assert.equal(run.stdout, "", "nothing ran");
      assert.ok((await readFile(path)).equals(bytes), "same bytes");
      assert.equal((await stat(path, { bigint: true })).mtimeNs, mtime, "same mtime");
      assert.deepEqual(await readdir(dir), files, "no -wal, -shm or journal file beside it");
      const check = new Database(path, { readonly: true });
      try {
        assert.deepEqual(check.prepare("SELECT name FROM sqlite_schema").pluck().all(), ["customers"]);
        assert.equal(check.pragma("journal_mode", { simple: true }), mode);
      } finally {
        check.close();
      }
    });
  }
});
