import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { RequestsTable } from "../../src/storage/DatabaseSchema.js";
import { PostgresStore } from "../../src/storage/postgres/PostgresStore.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { recordFromRow } from "../../src/storage/storedRows.js";
import { runRowsOf } from "../storage/fixtures/runRowsOf.js";
import { sampleMachine, sampleRecord, sampleRunResult } from "../storage/fixtures/sampleRun.js";
import { freshDatabase, serverPassword } from "../storage/postgres/fixtures/postgresServer.js";
import { runCli } from "./runCli.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-dbcopy-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("db copy: a SQLite history into PostgreSQL, row for row, and nothing twice when run again", async () => {
  const path = join(dir, "runs.sqlite");
  const local = RunStore.open(path);
  local.finishRun(sampleRunResult("run-a", 30), { terminal_text: "printed a\n", tags: ["x"] });
  local.finishRun(sampleRunResult("run-b", 1_200));
  // A run whose writer died: status running, some requests.
  local.beginRun({
    run_id: "run-c",
    started_at: "2026-12-01T00:00:00.000Z",
    config: { target: "openai-chat" },
    machine: sampleMachine("other-host"),
    tool_version: "t",
  });
  local.appendRequests("run-c", [sampleRecord(0), sampleRecord(1)]);
  local.close();
  const db = await freshDatabase("dbcopy");

  const first = await runCli(["db", "copy", "--from", path, "--to", db]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(
    first.stdout,
    /^copied 3 runs \(1232 requests\) to postgres:\/\/\[redacted\]@127\.0\.0\.1:\d+\/\S+; 0 were there already\n$/,
  );
  assert.ok(!first.stdout.includes(serverPassword()) && !first.stderr.includes(serverPassword()));
  const second = await runCli(["db", "copy", "--from", path, "--to", db]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /^copied 0 runs \(0 requests\) to .*; 3 were there already\n$/);

  const source = RunStore.open(path);
  const target = await PostgresStore.open(db);
  try {
    const counts = await target.query(
      "count",
      "SELECT (SELECT COUNT(*) FROM runs) AS runs, (SELECT COUNT(*) FROM requests) AS requests, (SELECT COUNT(*) FROM machines) AS machines, (SELECT COUNT(*) FROM run_outputs) AS outputs, (SELECT COUNT(*) FROM run_tags) AS tags",
    );
    assert.deepEqual(counts.rows[0], { runs: 3, requests: 1232, machines: 2, outputs: 1, tags: 1 });
    for (const runId of source.runIds()) {
      const rows = source.runRows(runId);
      const run = await target.query(
        "run",
        "SELECT r.*, m.fingerprint FROM runs r JOIN machines m ON m.id = r.machine_id WHERE r.id = $1",
        [runId],
      );
      const { machine_id: _a, fingerprint, ...copied } = run.rows[0] as Record<string, unknown>;
      const { machine_id: _b, ...original } = rows.runs;
      assert.deepEqual(copied, original, runId);
      assert.equal(fingerprint, rows.machine.fingerprint);
      const requests = await target.query(
        "requests",
        "SELECT * FROM requests WHERE run_id = $1 ORDER BY idx",
        [runId],
      );
      assert.deepEqual(
        requests.rows.map((row) => recordFromRow(row as RequestsTable)),
        rows.requests.map(recordFromRow),
      );
    }
  } finally {
    source.close();
    await target.close();
  }
});

test("db copy from PostgreSQL into a SQLite file gives back every row of the file it came from", async () => {
  const path = join(dir, "origin.sqlite");
  const origin = RunStore.open(path);
  origin.finishRun(sampleRunResult("round-a", 2_500), { terminal_text: "printed\n", tags: ["t"] });
  origin.history().accept("round-a");
  origin.beginRun({
    run_id: "round-b",
    started_at: "2026-12-01T00:00:00.000Z",
    config: { target: "openai-chat" },
    machine: sampleMachine("other-host"),
    tool_version: "t",
  });
  origin.appendRequests("round-b", [sampleRecord(0)]);
  origin.close();
  const db = await freshDatabase("dbcopy_back");
  assert.equal((await runCli(["db", "copy", "--from", path, "--to", db])).code, 0);
  const back = join(dir, "back.sqlite");
  const run = await runCli(["db", "copy", "--from", db, "--to", back]);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, `copied 2 runs (2501 requests) to ${back}; 0 were there already\n`);
  assert.ok(!run.stderr.includes(serverPassword()));
  const again = await runCli(["db", "copy", "--from", db, "--to", back]);
  assert.match(again.stdout, /^copied 0 runs \(0 requests\) to .*; 2 were there already\n$/);
  assert.deepEqual(runRowsOf(back), runRowsOf(path));
});
