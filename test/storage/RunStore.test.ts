import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import Database from "better-sqlite3";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { TABLE_COLUMNS } from "../../src/storage/DatabaseSchema.js";
import { defaultDatabasePath } from "../../src/storage/defaultDatabasePath.js";
import { LATEST_SCHEMA_VERSION } from "../../src/storage/migrations.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { sampleMachine, sampleRecord, sampleRunResult } from "./fixtures/sampleRun.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
const freshPath = () => join(dir, `nested-${++counter}`, "deeper", "runs.sqlite");

describe("RunStore", () => {
  test("creates parent folders, sets WAL and the schema version, and its DDL matches DatabaseSchema", () => {
    const path = freshPath();
    RunStore.open(path).close();
    const db = new Database(path, { readonly: true });
    try {
      assert.equal(db.pragma("user_version", { simple: true }), LATEST_SCHEMA_VERSION);
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      for (const [table, columns] of Object.entries(TABLE_COLUMNS)) {
        const actual = (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
        assert.deepEqual(actual, columns, `columns of ${table}`);
      }
      const indices = (db.pragma("index_list(requests)") as { name: string }[]).map((i) => i.name);
      assert.ok(indices.length > 0, "requests has an index starting with run_id (its primary key)");
    } finally {
      db.close();
    }
  });

  test("a whole RunResult round-trips exactly through finishRun and getRun", () => {
    const store = RunStore.open(freshPath());
    try {
      const result = sampleRunResult("run-roundtrip", 12);
      store.finishRun(result);
      assert.deepEqual(store.getRun("run-roundtrip"), result);
    } finally {
      store.close();
    }
  });

  test("begin, append as requests finish, finish: same result, requests in index order", () => {
    const path = freshPath();
    const store = RunStore.open(path);
    const result = sampleRunResult("run-streamed", 7);
    store.beginRun({
      run_id: result.run_id,
      started_at: result.started_at,
      config: result.config,
      machine: result.machine,
      tool_version: result.tool.version,
      model: "explicit-model",
    });
    const running = store.getRun(result.run_id);
    assert.equal(running.status, "running", "our own live process");
    assert.equal(running.summary, null);
    assert.equal(running.ended_at, null);
    // Out of order, as concurrent requests finish.
    for (const i of [3, 0, 6, 1, 5, 2, 4]) store.appendRequest(result.run_id, sampleRecord(i));
    assert.deepEqual(
      store
        .getRun(result.run_id)
        .requests.toArray()
        .map((r) => r.index),
      [0, 1, 2, 3, 4, 5, 6],
    );
    store.finishRun(result);
    store.close();

    const reopened = RunStore.open(path);
    try {
      assert.deepEqual(reopened.getRun(result.run_id), result);
      const [entry] = reopened.listRuns();
      assert.equal(entry?.run_id, result.run_id);
      assert.equal(entry?.model, "explicit-model", "model given at beginRun survives finishRun");
      assert.equal(entry?.target_kind, "openai-chat", "taken from config.target");
      assert.equal(entry?.requests, 7);
      assert.equal(entry?.failed_requests, 2, "indices 2 and 5 failed");
      assert.equal(entry?.hostname, "bench-host");
    } finally {
      reopened.close();
    }
  });

  test("status reasons and the interrupted status are stored; listRuns is newest first with limit", () => {
    const store = RunStore.open(freshPath());
    try {
      const a = { ...sampleRunResult("run-a", 2), started_at: "2025-01-01T00:00:00.000Z" };
      const b = {
        ...sampleRunResult("run-b", 3),
        started_at: "2025-02-01T00:00:00.000Z",
        status: "interrupted" as const,
        status_reason: "SIGINT",
      };
      store.finishRun(a);
      store.finishRun(b);
      assert.deepEqual(
        store.listRuns().map((r) => [r.run_id, r.status, r.status_reason, r.requests]),
        [
          ["run-b", "interrupted", "SIGINT", 3],
          ["run-a", "completed", null, 2],
        ],
      );
      assert.deepEqual(
        store.listRuns({ limit: 1 }).map((r) => r.run_id),
        ["run-b"],
      );
      assert.equal(store.deleteRun("run-b"), true);
      assert.equal(store.deleteRun("run-b"), false);
      assert.deepEqual(
        store.listRuns().map((r) => r.run_id),
        ["run-a"],
      );
    } finally {
      store.close();
    }
  });

  test("identical machines are stored once, different ones separately", () => {
    const path = freshPath();
    const store = RunStore.open(path);
    store.finishRun(sampleRunResult("m1", 1));
    store.finishRun(sampleRunResult("m2", 1));
    store.finishRun({ ...sampleRunResult("m3", 1), machine: sampleMachine("other-host") });
    store.close();
    const db = new Database(path, { readonly: true });
    try {
      const rows = db.prepare("SELECT hostname FROM machines ORDER BY id").all();
      assert.deepEqual(rows, [{ hostname: "bench-host" }, { hostname: "other-host" }]);
    } finally {
      db.close();
    }
  });

  test("secrets in the configuration, headers, URLs and error messages never reach the file", () => {
    const path = freshPath();
    const store = RunStore.open(path);
    const apiKey = "sk-live-0123456789abcdef";
    const result = sampleRunResult("run-secret", 3);
    const config = {
      target: "openai-chat",
      model: "tiny",
      max_tokens: 64,
      api_key: apiKey,
      nested: {
        apiKey: `also-${apiKey}`,
        OPENAI_API_KEY: "sk-env-key-xyz",
        password: "hunter22",
        token: "tok-abc",
      },
      headers: { Authorization: `Bearer ${apiKey}`, "X-Api-Key": "xkey-1234567", "X-Trace": "keep-me" },
      header_lines: ["Authorization: Bearer sk-line-secret", "X-Trace: keep-me-too"],
      header_pairs: [["x-api-key", "pair-secret-99"]],
      header_objects: [{ name: "Authorization", value: "Basic dXNlcjpwYXNz" }],
      url: "https://user:url-password@example.com/v1",
      note: `the key ${apiKey} pasted in a free-text field`,
    };
    const record = {
      ...sampleRecord(2),
      error: { code: "REQUEST_HTTP_ERROR", message: `401: invalid key ${apiKey}`, status: 401 },
    };
    store.beginRun({
      run_id: result.run_id,
      started_at: result.started_at,
      config,
      machine: result.machine,
      tool_version: "0.1.0",
      secrets: [apiKey],
    });
    store.appendRequest(result.run_id, record);
    store.finishRun({ ...result, config, status_reason: `aborted after ${apiKey} was refused` });
    const stored = store.getRun(result.run_id);
    store.close();

    const bytes = Buffer.concat(
      [path, `${path}-wal`].map((p) => {
        try {
          return readFileSync(p);
        } catch {
          return Buffer.alloc(0);
        }
      }),
    ).toString("latin1");
    for (const secret of [
      apiKey,
      "sk-env-key-xyz",
      "hunter22",
      "tok-abc",
      "xkey-1234567",
      "sk-line-secret",
      "pair-secret-99",
      "dXNlcjpwYXNz",
      "url-password",
    ]) {
      assert.ok(!bytes.includes(secret), `${secret} is not in the database file`);
      assert.ok(!JSON.stringify(stored).includes(secret), `${secret} is not read back`);
    }
    const storedConfig = stored.config as typeof config;
    assert.equal(storedConfig.api_key, "[redacted]");
    assert.equal(storedConfig.max_tokens, 64, "max_tokens is not mistaken for a token");
    assert.equal(storedConfig.headers["X-Trace"], "keep-me");
    assert.deepEqual(storedConfig.header_lines, ["Authorization: [redacted]", "X-Trace: keep-me-too"]);
    assert.equal(storedConfig.url, "https://[redacted]@example.com/v1");
    assert.equal(storedConfig.note, "the key *** pasted in a free-text field");
    assert.equal(
      stored.requests.toArray().find((r) => r.index === 2)?.error?.message,
      "401: invalid key ***",
    );
    assert.equal(stored.status_reason, "aborted after *** was refused");
  });

  test("a path that cannot be created gives DB_OPEN_FAILED naming the path", () => {
    const file = join(dir, "a-regular-file");
    writeFileSync(file, "not a folder");
    const path = join(file, "sub", "runs.sqlite");
    assert.throws(
      () => RunStore.open(path),
      (error: unknown) => isTokbenchError(error, "DB_OPEN_FAILED") && error.message.includes(path),
    );
  });

  test("a file that is not a database gives DB_OPEN_FAILED, and the file is left alone", () => {
    const path = join(dir, "garbage.sqlite");
    const garbage = "this is certainly not a SQLite database ".repeat(200);
    writeFileSync(path, garbage);
    assert.throws(
      () => RunStore.open(path),
      (error: unknown) =>
        isTokbenchError(error, "DB_OPEN_FAILED") &&
        error.message.includes(path) &&
        /not a database/.test(error.message),
    );
    assert.equal(readFileSync(path).toString(), garbage);
  });

  test("a database from a newer tokbench is refused", () => {
    const path = freshPath();
    RunStore.open(path).close();
    const db = new Database(path);
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(
      () => RunStore.open(path),
      (error: unknown) => isTokbenchError(error, "DB_OPEN_FAILED") && /newer/.test(error.message),
    );
  });

  test("unknown runs and duplicate requests are clear errors", () => {
    const store = RunStore.open(freshPath());
    try {
      assert.throws(
        () => store.getRun("nope"),
        (error: unknown) => isTokbenchError(error, "RUN_NOT_FOUND"),
      );
      assert.throws(
        () => store.appendRequest("nope", sampleRecord(0)),
        (error: unknown) => isTokbenchError(error, "DB_WRITE_FAILED") && error.message.includes("run nope"),
      );
      const result = sampleRunResult("dup", 1);
      store.beginRun({ ...result, config: {}, tool_version: "0.1.0" });
      store.appendRequest("dup", sampleRecord(0));
      assert.throws(
        () => store.appendRequest("dup", sampleRecord(0)),
        (error: unknown) => isTokbenchError(error, "DB_WRITE_FAILED"),
      );
      assert.throws(
        () => store.beginRun({ ...result, config: {}, tool_version: "0.1.0" }),
        (error: unknown) => isTokbenchError(error, "DB_WRITE_FAILED"),
      );
    } finally {
      store.close();
    }
  });

  test("the default path is in the data directory, and TOKBENCH_DB overrides it", () => {
    assert.equal(defaultDatabasePath({ TOKBENCH_DB: "/x/y.sqlite" }), "/x/y.sqlite");
    const path = defaultDatabasePath({});
    assert.match(path, /tokbench[/\\](Data[/\\])?tokbench\.sqlite$/);
    if (process.platform === "linux") {
      const base = process.env.XDG_DATA_HOME ?? join(process.env.HOME ?? "", ".local", "share");
      assert.equal(path, join(base, "tokbench", "tokbench.sqlite"));
    }
  });
});
