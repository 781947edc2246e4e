import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "./runCli.js";

describe("tokbench worker and sweep's team flags, without PostgreSQL", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-worker-cli-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("worker refuses a SQLite database in one line, naming what it needs", async () => {
    const run = await runCli(["worker", "--db", join(dir, "x.sqlite")]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /tokbench worker works on sweeps in a PostgreSQL database/);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  });

  it("worker refuses a lease of 0 before connecting", async () => {
    const run = await runCli(["worker", "--db", "postgres://u:hunter2@127.0.0.1:1/x", "--lease", "0"]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /--lease must be a number of seconds above 0/);
    assert.ok(!run.stderr.includes("hunter2"));
  });

  it("an unreachable PostgreSQL stops the worker in one line without the password", async () => {
    const run = await runCli(["worker", "--db", "postgres://u:hunter2@127.0.0.1:1/x"]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /postgres:\/\/\[redacted\]@127\.0\.0\.1:1\/x/);
    assert.ok(!run.stderr.includes("hunter2"));
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  });

  it("sweep --queue-only with a SQLite --db is refused: workers share a PostgreSQL sweep only", async () => {
    const run = await runCli([
      "sweep",
      "--url",
      "http://127.0.0.1:1/v1",
      "--model",
      "m",
      "--concurrency",
      "1",
      "--queue-only",
      "--db",
      join(dir, "y.sqlite"),
    ]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /--queue-only need a PostgreSQL --db/);
  });
});
