import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { isTokbenchError } from "../../../src/errors/TokbenchError.js";
import type { RequestsTable } from "../../../src/storage/DatabaseSchema.js";
import { TABLE_COLUMNS } from "../../../src/storage/DatabaseSchema.js";
import { LATEST_SCHEMA_VERSION } from "../../../src/storage/migrations.js";
import { PostgresStore } from "../../../src/storage/postgres/PostgresStore.js";
import { machineFingerprint, recordFromRow } from "../../../src/storage/storedRows.js";
import { sampleMachine, sampleRecord, sampleRunResult } from "../fixtures/sampleRun.js";
import { freshDatabase, serverPassword, serverUrl } from "./fixtures/postgresServer.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

async function columnsOf(url: string): Promise<Map<string, string[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const found = await client.query<{ table_name: string; column_name: string }>(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, ordinal_position",
    );
    const tables = new Map<string, string[]>();
    for (const row of found.rows)
      tables.set(row.table_name, [...(tables.get(row.table_name) ?? []), row.column_name]);
    return tables;
  } finally {
    await client.end();
  }
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

test("the migrations give PostgreSQL the columns of the one typed schema, with 64-bit integers", async () => {
  const url = await freshDatabase("schema");
  const store = await PostgresStore.open(url);
  try {
    assert.equal(await store.schemaVersion(), LATEST_SCHEMA_VERSION);
  } finally {
    await store.close();
  }
  const tables = await columnsOf(url);
  for (const [table, columns] of Object.entries(TABLE_COLUMNS)) {
    assert.deepEqual(tables.get(table), columns, `columns of ${table}`);
  }
  assert.deepEqual(
    [...tables.keys()].filter((t) => !(t in TABLE_COLUMNS)),
    ["tokbench_schema_version"],
    "no table but the schema's and the version",
  );
  // A machine with 64 GiB of memory does not fit a 32-bit INTEGER.
  const second = await PostgresStore.open(url);
  try {
    await second.beginRun({
      run_id: "big",
      started_at: "2026-12-01T00:00:00.000Z",
      config: {},
      machine: { ...sampleMachine(), total_memory_bytes: 64 * 2 ** 30 },
      tool_version: "t",
    });
    const found = await second.query("read", "SELECT total_memory_bytes FROM machines");
    assert.equal(found.rows[0]?.total_memory_bytes, 64 * 2 ** 30);
  } finally {
    await second.close();
  }
});

test("8 processes migrating one new database at once: each finds the latest schema, applied once", async () => {
  const url = await freshDatabase("concurrent");
  const worker = join(fixtures, "migrateWorker.js");
  const results = await Promise.all(Array.from({ length: 8 }, () => run([worker, url])));
  for (const result of results) {
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), String(LATEST_SCHEMA_VERSION));
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const versions = await client.query("SELECT version FROM tokbench_schema_version");
    assert.deepEqual(versions.rows, [{ version: LATEST_SCHEMA_VERSION }]);
  } finally {
    await client.end();
  }
  const tables = await columnsOf(url);
  assert.deepEqual(tables.get("requests"), TABLE_COLUMNS.requests);
});

test("a role without CREATE on the schema uses a database already migrated: writes runs, reads them back", async () => {
  const url = await freshDatabase("least_privilege");
  await (await PostgresStore.open(url)).close();
  const role = `tb_rows_only_${process.pid}`;
  const password = "pw-rows-only-4711";
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`);
    await admin.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC");
    await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ${role}`);
    await admin.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
  } finally {
    await admin.end();
  }
  const asRole = (database: string) => {
    const u = new URL(database);
    u.username = role;
    u.password = password;
    return u.href;
  };
  const store = await PostgresStore.open(asRole(url));
  try {
    await store.finishRun(sampleRunResult("rows-only", 3));
    assert.deepEqual(
      (await store.history().listRuns()).runs.map((r) => [r.run_id, r.requests]),
      [["rows-only", 3]],
    );
  } finally {
    await store.close();
  }
  // The same role cannot create the schema in a new database: one line, no password.
  await assert.rejects(
    PostgresStore.open(asRole(await freshDatabase("least_privilege_new"))),
    (error: unknown) =>
      isTokbenchError(error, "DB_OPEN_FAILED") &&
      /permission denied for schema public/.test(error.message) &&
      !error.message.includes(password),
  );
});

test("a database with a newer schema is refused with DB_OPEN_FAILED, untouched", async () => {
  const url = await freshDatabase("newer");
  await (await PostgresStore.open(url)).close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query("UPDATE tokbench_schema_version SET version = 99");
  await client.end();
  await assert.rejects(PostgresStore.open(url), (error: unknown) => {
    assert.ok(isTokbenchError(error, "DB_OPEN_FAILED"));
    assert.match(error.message, /schema version 99, newer than this tokbench supports/);
    assert.ok(!error.message.includes(serverPassword()), error.message);
    return true;
  });
});

test("a run and its requests read back exactly; the run carries the machine's fingerprint and host name", async () => {
  const url = await freshDatabase("roundtrip");
  const store = await PostgresStore.open(url);
  try {
    const machine = sampleMachine("gpu-box-7");
    await store.beginRun({
      run_id: "r1",
      started_at: "2026-12-01T00:00:00.000Z",
      config: { target: "openai-chat", model: "m" },
      machine,
      tool_version: "t",
      tags: ["nightly"],
    });
    const n = 2_500; // more than one INSERT's worth
    await store.appendRequests(
      "r1",
      Array.from({ length: n }, (_, i) => sampleRecord(i)),
    );
    // A batch sent again (a retry after a lost answer) adds nothing.
    await store.appendRequests("r1", [sampleRecord(0), sampleRecord(n - 1)]);
    const rows = await store.query("read", "SELECT * FROM requests WHERE run_id = 'r1' ORDER BY idx");
    assert.equal(rows.rows.length, n);
    assert.deepEqual(
      rows.rows.map((row) => recordFromRow(row as RequestsTable)),
      Array.from({ length: n }, (_, i) => sampleRecord(i)),
    );
    // A figure JSON cannot carry (the batch goes as bound parameters then) is stored as it is.
    const odd = { ...sampleRecord(n), decode_tps: Number.POSITIVE_INFINITY, tpot_ms: Number.NaN };
    await store.appendRequests("r1", [sampleRecord(n + 1), odd]);
    const back = await store.query(
      "read",
      "SELECT * FROM requests WHERE run_id = 'r1' AND idx >= $1 ORDER BY idx",
      [n],
    );
    assert.deepEqual(
      back.rows.map((row) => recordFromRow(row as RequestsTable)),
      [odd, sampleRecord(n + 1)],
    );
    const runRow = await store.query(
      "read",
      "SELECT r.status, r.writer_hostname, r.writer_pid, m.fingerprint, m.hostname, t.tag, f.workload_key FROM runs r JOIN machines m ON m.id = r.machine_id JOIN run_tags t ON t.run_id = r.id JOIN run_facts f ON f.run_id = r.id",
    );
    assert.deepEqual(runRow.rows[0], {
      status: "running",
      writer_hostname: hostname(),
      writer_pid: process.pid,
      fingerprint: machineFingerprint(machine),
      hostname: "gpu-box-7",
      tag: "nightly",
      workload_key: runRow.rows[0]?.workload_key,
    });
  } finally {
    await store.close();
  }
});

test("the connection string's password never reaches an error, or the database", async () => {
  const password = serverPassword();
  const url = await freshDatabase("secrets");
  // Refused credentials.
  const wrong = new URL(url);
  wrong.password = "Wr0ng-Pass-Word";
  await assert.rejects(PostgresStore.open(wrong.href), (error: unknown) => {
    assert.ok(isTokbenchError(error, "DB_OPEN_FAILED"));
    assert.ok(!error.message.includes("Wr0ng-Pass-Word"), error.message);
    assert.match(error.message, /\[redacted\]@127\.0\.0\.1/);
    assert.ok(!JSON.stringify(error.context).includes("Wr0ng-Pass-Word"));
    assert.equal(error.cause, undefined);
    return true;
  });
  // Nothing listening.
  const nowhere = new URL(url);
  nowhere.port = "1";
  await assert.rejects(PostgresStore.open(nowhere.href), (error: unknown) => {
    assert.ok(isTokbenchError(error, "DB_OPEN_FAILED"));
    assert.ok(!error.message.includes(password), error.message);
    assert.match(error.message, /ECONNREFUSED/);
    return true;
  });
  // A configuration that holds the URL itself (bench records its --db), and an error message
  // that echoes the password.
  const store = await PostgresStore.open(url);
  try {
    assert.ok(!store.shownUrl.includes(password));
    await store.beginRun({
      run_id: "s1",
      started_at: "2026-12-01T00:00:00.000Z",
      config: { target: "openai-chat", db: url, note: `pw is ${password}` },
      machine: sampleMachine(),
      tool_version: "t",
    });
    await store.appendRequests("s1", [
      {
        ...sampleRecord(2),
        error: { code: "X", message: `server said ${url} and ${password}`, status: 500 },
      },
    ]);
    await assert.rejects(store.query("fail", `SELECT '${password}'::int`), (error: unknown) => {
      assert.ok(isTokbenchError(error, "DB_WRITE_FAILED"));
      assert.ok(!error.message.includes(password), error.message);
      return true;
    });
    const dump = await store.query(
      "dump",
      "SELECT (SELECT string_agg(r::text, '|') FROM runs r) || (SELECT string_agg(q::text, '|') FROM requests q) || (SELECT string_agg(m::text, '|') FROM machines m) AS all_text",
    );
    const text = String(dump.rows[0]?.all_text);
    assert.ok(text.includes("[redacted]"), "the redaction ran");
    assert.ok(!text.includes(password), "the password is not stored");
  } finally {
    await store.close();
  }
});

test("SIGKILL mid-run through the batched writer keeps every request finished more than the delay (plus one commit) before the kill", async () => {
  const url = await freshDatabase("sigkill");
  const delayMs = 50;
  const child = spawn(
    process.execPath,
    [join(fixtures, "batchedWriterChild.js"), url, "k1", String(delayMs), "2"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  let killedAt = 0;
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      // Kill once the run has gone on for about 1.5 s of requests.
      if (killedAt === 0 && stdout.split("\n").length > 300) {
        setTimeout(() => {
          killedAt = Date.now();
          child.kill("SIGKILL");
          resolve();
        }, 1_000);
        killedAt = -1;
      }
    });
    child.on("exit", () => (killedAt > 0 ? undefined : reject(new Error(`child exited early: ${stderr}`))));
  });
  assert.equal(await exited, "SIGKILL");
  const finished = stdout
    .split("\n")
    .filter((line) => /^\d+ \d+$/.test(line))
    .map((line) => line.split(" ").map(Number) as [number, number]);
  const store = await PostgresStore.open(url);
  try {
    const stored = new Set(await store.storedIndexes("k1"));
    // Stored requests are a prefix: batches commit in order.
    const storedCount = stored.size;
    assert.ok(storedCount > 100, `stored ${storedCount}`);
    for (let i = 0; i < storedCount; i++) assert.ok(stored.has(i), `request ${i} stored`);
    // The bound: the delay plus one commit's round trip. On this loaded 2-core machine one
    // commit takes a few ms; 200 ms leaves room for the scheduler without making the check empty
    // (about 500 requests finish in the last second before the kill).
    const bound = delayMs + 200;
    const mustHave = finished.filter(([, at]) => at < killedAt - bound);
    const missing = mustHave.filter(([index]) => !stored.has(index)).map(([index]) => index);
    assert.ok(mustHave.length > 100, `${mustHave.length} requests finished before the bound`);
    assert.deepEqual(missing, [], `requests finished more than ${bound} ms before the kill and not stored`);
    // And the writer does not wait for the end: requests were stored up to near the kill.
    assert.ok(storedCount > finished.length - 300, `stored ${storedCount} of ${finished.length} finished`);
  } finally {
    await store.close();
  }
});

// Keep the URL helpers honest: the suite really has a server.
test("the suite runs against the server npm run test:postgres started", () => {
  assert.match(serverUrl(), /^postgres:\/\/tokbench:[^@]+@127\.0\.0\.1:\d+\/tokbench$/);
});
