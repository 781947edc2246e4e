import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import type { RequestsTable } from "../../src/storage/DatabaseSchema.js";
import { PostgresStore } from "../../src/storage/postgres/PostgresStore.js";
import { PostgresSweepStore } from "../../src/storage/postgres/PostgresSweepStore.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { recordFromRow } from "../../src/storage/storedRows.js";
import { runRowsOf } from "../storage/fixtures/runRowsOf.js";
import { sampleMachine, sampleRecord, sampleRunResult } from "../storage/fixtures/sampleRun.js";
import { SAMPLE_SWEEP_ID, SEARCH_VIEWS, storeSampleSearches } from "../storage/fixtures/sampleSearches.js";
import { freshDatabase, serverPassword } from "../storage/postgres/fixtures/postgresServer.js";
import { runCli } from "./runCli.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-dbcopy-"));
/** The second line of a copy of a history without sweeps or tunes. */
const NO_SEARCHES =
  "copied 0 sweeps \\(0 cells; 0 were there already\\) and 0 tunes \\(0 trials; 0 were there already\\)\\n";
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
    new RegExp(
      `^copied 3 runs \\(1232 requests\\) to postgres://\\[redacted\\]@127\\.0\\.0\\.1:\\d+/\\S+; 0 were there already\\n${NO_SEARCHES}$`,
    ),
  );
  assert.ok(!first.stdout.includes(serverPassword()) && !first.stderr.includes(serverPassword()));
  const second = await runCli(["db", "copy", "--from", path, "--to", db]);
  assert.equal(second.code, 0, second.stderr);
  assert.match(
    second.stdout,
    new RegExp(`^copied 0 runs \\(0 requests\\) to .*; 3 were there already\\n${NO_SEARCHES}$`),
  );

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
  assert.match(
    run.stdout,
    new RegExp(`^copied 2 runs \\(2501 requests\\) to [^;]+; 0 were there already\\n${NO_SEARCHES}$`),
  );
  assert.ok(!run.stderr.includes(serverPassword()));
  const again = await runCli(["db", "copy", "--from", db, "--to", back]);
  assert.match(
    again.stdout,
    new RegExp(`^copied 0 runs \\(0 requests\\) to .*; 2 were there already\\n${NO_SEARCHES}$`),
  );
  assert.deepEqual(runRowsOf(back), runRowsOf(path));
});

test("db copy moves sweeps (a distributed sweep's queue too) and tunes in every direction, linked to their runs, once", async () => {
  const file = join(dir, "searches.sqlite");
  const origin = RunStore.open(file);
  await storeSampleSearches(origin);
  origin.close();
  const team = await freshDatabase("dbcopy_search");
  const up = await runCli(["db", "copy", "--from", file, "--to", team]);
  assert.equal(up.code, 0, up.stderr);
  assert.match(
    up.stdout,
    /\ncopied 1 sweeps \(1 cells; 0 were there already\) and 1 tunes \(2 trials; 0 were there already\)\n$/,
  );
  // The SQLite file and its PostgreSQL copy answer the same (item by item, text and JSON).
  for (const view of SEARCH_VIEWS) {
    const a = await runCli([...view, "--db", file]);
    const b = await runCli([...view, "--db", team]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    if (view[0] === "show" && view.includes("--json") && view[1] === SAMPLE_SWEEP_ID) {
      // PostgreSQL adds the sweep's queue: none for a sweep run by one `tokbench sweep`.
      assert.deepEqual(JSON.parse(b.stdout), { ...JSON.parse(a.stdout), queue: null });
    } else assert.equal(b.stdout, a.stdout, view.join(" "));
  }
  // A distributed sweep created in PostgreSQL: two cells queued, one claimed by a worker.
  const store = await PostgresStore.open(team);
  const queued = "9ueu0000-0000-4000-8000-000000000003";
  try {
    const sweeps = new PostgresSweepStore(store);
    await sweeps.create({
      sweep_id: queued,
      tool_version: "t",
      started_at: "2026-06-01T00:00:00.000Z",
      spec: { knob_axes: [] },
      cells: [
        { key: "a", index: 0, configuration: 0 },
        { key: "b", index: 1, configuration: 0 },
      ],
      machine_class: null,
    });
    assert.ok(
      await sweeps.claim({ worker: "w1", machine_class: "x", lease_ms: 60_000 }, { sweep_id: queued }),
    );
  } finally {
    await store.close();
  }
  // PostgreSQL to PostgreSQL keeps the queue; PostgreSQL to SQLite keeps every row as well.
  const other = await freshDatabase("dbcopy_search_other");
  const back = join(dir, "searches-back.sqlite");
  for (const target of [other, back]) {
    const run = await runCli(["db", "copy", "--from", team, "--to", target]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /\ncopied 2 sweeps \(1 cells; 0 were there already\) and 1 tunes \(2 trials; 0 were there already\)\n$/,
    );
    assert.ok(!run.stdout.includes(serverPassword()) && !run.stderr.includes(serverPassword()));
    const again = await runCli(["db", "copy", "--from", team, "--to", target]);
    assert.match(
      again.stdout,
      /\ncopied 0 sweeps \(0 cells; 2 were there already\) and 0 tunes \(0 trials; 1 were there already\)\n$/,
    );
  }
  for (const view of [...SEARCH_VIEWS, ["show", queued, "--json"]]) {
    const a = await runCli([...view, "--db", team]);
    assert.equal((await runCli([...view, "--db", other])).stdout, a.stdout, view.join(" "));
  }
  const shownBack = JSON.parse((await runCli(["show", queued, "--json", "--db", back])).stdout);
  const { queue, ...shownTeam } = JSON.parse((await runCli(["show", queued, "--json", "--db", team])).stdout);
  assert.deepEqual(queue, { queued: 1, leased: 1, done: 0, reclaims: 0 });
  assert.deepEqual(shownBack, shownTeam);
  // And back again: the file copied from PostgreSQL holds every row the original file had.
  const rows = (path: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return ["sweeps", "sweep_runs", "sweep_cells", "tunes", "tune_trials"].map((table) =>
        db
          .prepare(
            `SELECT * FROM ${table} WHERE ${table === "sweeps" || table === "tunes" ? "id" : table.startsWith("sweep") ? "sweep_id" : "tune_id"} <> ? ORDER BY 1, 2, 3`,
          )
          .all(queued),
      );
    } finally {
      db.close();
    }
  };
  assert.deepEqual(rows(back), rows(file));
  const queueBack = new Database(back, { readonly: true });
  try {
    assert.deepEqual(
      queueBack.prepare("SELECT cell_key, state, worker FROM sweep_queue ORDER BY cell_key").all(),
      [
        { cell_key: "a", state: "leased", worker: "w1" },
        { cell_key: "b", state: "queued", worker: null },
      ],
    );
  } finally {
    queueBack.close();
  }
});
