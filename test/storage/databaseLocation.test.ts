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
    /^cannot use postgres:\/\/\[redacted\]@db\.example:5432\/runs as the database: this command writes to a SQLite file only so far \(bench, db copy and the history commands .* take PostgreSQL\); give the path of a SQLite file/,
  ],
  [
    `postgresql://bench:${PASSWORD}@localhost/runs?sslmode=require`,
    /this command writes to a SQLite file only so far/,
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
  // The "//" forgotten: taken for a relative path, it made a folder named after the password.
  [
    `postgres:bench:${PASSWORD}@db.example/runs`,
    /^the database location starts with "postgres:" but not "postgres:\/\/": a URL needs the "\/\/"/,
  ],
  [`sqlite:runs.sqlite`, /starts with "sqlite:" but not "sqlite:\/\/"/],
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

  it("the CLI refuses --db and TOKBENCH_DB URLs it cannot use at once, one line, no password, no folder", async () => {
    const cwd = mkdtempSync(join(dir, "cwd-"));
    const pgUrl = `postgres://bench:${PASSWORD}@127.0.0.1:9/runs`;
    const mysqlUrl = `mysql://bench:${PASSWORD}@db.example:3306/runs`;
    const runs: [Awaited<ReturnType<typeof runCli>>, RegExp][] = [
      [
        await runCli(["bench", "--url", "http://127.0.0.1:9/v1", "--model", "m", "--db", mysqlUrl], { cwd }),
        /^tokbench: cannot use mysql:\/\/\[redacted\]@db\.example:3306\/runs as the database: mysql:\/\/ databases are not supported; .*\[DB_UNSUPPORTED\]\n$/,
      ],
      [
        await runCli(["bench", "--url", "http://127.0.0.1:9/v1", "--model", "m"], {
          cwd,
          env: { TOKBENCH_DB: mysqlUrl },
        }),
        /^tokbench: cannot use mysql:\/\/\[redacted\]@db\.example:3306\/runs as the database: mysql:\/\/ databases are not supported; .*\[DB_UNSUPPORTED\]\n$/,
      ],
      // tune writes to PostgreSQL (test/cli/tunePostgres.pg-test.ts): it connects first, and an
      // unreachable server is one line without the password, before any server is launched.
      [
        await runCli(["tune", "--replay", join(cwd, "absent.jsonl"), "--db", pgUrl], { cwd }),
        /^tokbench: cannot open in PostgreSQL database postgres:\/\/\[redacted\]@127\.0\.0\.1:9\/runs: .*\[DB_OPEN_FAILED\]\n$/,
      ],
      [
        await runCli(["tune", "--replay", join(cwd, "absent.jsonl")], {
          cwd,
          env: { TOKBENCH_DB: pgUrl },
        }),
        /^tokbench: cannot open in PostgreSQL database postgres:\/\/\[redacted\]@127\.0\.0\.1:9\/runs: .*\[DB_OPEN_FAILED\]\n$/,
      ],
      // A history command connects: an unreachable server is one line, without the password.
      [
        await runCli(["runs", "--db", pgUrl], { cwd }),
        /^tokbench: cannot open in PostgreSQL database postgres:\/\/\[redacted\]@127\.0\.0\.1:9\/runs: .*\[DB_OPEN_FAILED\]\n$/,
      ],
    ];
    for (const [run, message] of runs) {
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, message);
      assert.ok(!run.stderr.includes(PASSWORD) && !run.stdout.includes(PASSWORD));
    }
    assert.deepEqual(readdirSync(cwd), []);
  });
});
