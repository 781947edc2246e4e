import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { runCli } from "../cli/runCli.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-dburl-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const PASSWORD = "pg-PASSWORD-4711";
const REFUSED: [string, RegExp][] = [
  [
    `postgres://bench:${PASSWORD}@db.example:5432/runs`,
    /^cannot use postgres:\/\/\[redacted\]@db\.example:5432\/runs as the database: PostgreSQL databases are not supported yet; give the path of a SQLite file/,
  ],
  [
    `postgresql://bench:${PASSWORD}@localhost/runs?sslmode=require`,
    /PostgreSQL databases are not supported yet/,
  ],
  [
    `postgres://localhost/runs?password=${PASSWORD}`,
    /postgres:\/\/localhost\/runs\?password=\[redacted\] as the database/,
  ],
  [
    `mysql://root:${PASSWORD}@localhost/runs`,
    /^cannot use mysql:\/\/\[redacted\]@localhost\/runs as the database: mysql:\/\/ databases are not supported/,
  ],
  [`sqlite://${dir}/x.sqlite`, /sqlite:\/\/ databases are not supported/],
];

describe("a database URL is never taken for a file path", () => {
  it("RunStore.open refuses URLs it cannot use, without creating anything or showing the password", () => {
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      for (const [location, message] of REFUSED) {
        assert.throws(
          () => RunStore.open(location),
          (error: unknown) =>
            isTokbenchError(error, "DB_UNSUPPORTED") &&
            message.test(error.message) &&
            !error.message.includes(PASSWORD),
          location,
        );
      }
      assert.deepEqual(readdirSync(dir), [], "no folder named postgres: or anything else");
    } finally {
      process.chdir(cwd);
    }
  });

  it("a file:// URL names the file", () => {
    const path = join(dir, "from-url.sqlite");
    const store = RunStore.open(pathToFileURL(path).href);
    assert.equal(store.path, path);
    store.close();
    assert.ok(existsSync(path));
  });

  it("the CLI refuses --db and TOKBENCH_DB URLs at once, one line, no password, no folder", async () => {
    const cwd = mkdtempSync(join(dir, "cwd-"));
    const url = `postgres://bench:${PASSWORD}@db.example:5432/runs`;
    const runs = [
      await runCli(["bench", "--url", "http://127.0.0.1:9/v1", "--model", "m", "--db", url], { cwd }),
      await runCli(["bench", "--url", "http://127.0.0.1:9/v1", "--model", "m"], {
        cwd,
        env: { TOKBENCH_DB: url },
      }),
    ];
    for (const run of runs) {
      assert.equal(run.code, 1, run.stderr);
      assert.match(
        run.stderr,
        /^tokbench: cannot use postgres:\/\/\[redacted\]@db\.example:5432\/runs as the database: PostgreSQL databases are not supported yet; .*\[DB_UNSUPPORTED\]\n$/,
      );
      assert.ok(!run.stderr.includes(PASSWORD) && !run.stdout.includes(PASSWORD));
    }
    assert.deepEqual(readdirSync(cwd), []);
  });
});
