import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { RunStore } from "../../src/storage/RunStore.js";
import { runRowsOf } from "../storage/fixtures/runRowsOf.js";
import { sampleMachine, sampleRecord, sampleRunResult } from "../storage/fixtures/sampleRun.js";
import { SAMPLE_SWEEP_ID, SEARCH_VIEWS, storeSampleSearches } from "../storage/fixtures/sampleSearches.js";
import { runCli } from "./runCli.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-dbcopy-file-"));
/** The second line of a copy of a history without sweeps or tunes. */
const NO_SEARCHES =
  "copied 0 sweeps (0 cells; 0 were there already) and 0 tunes (0 trials; 0 were there already)\n";
after(() => rmSync(dir, { recursive: true, force: true }));

test("db copy between two SQLite files: every row of every run, machines matched by fingerprint, nothing twice", async () => {
  const from = join(dir, "from.sqlite");
  const source = RunStore.open(from);
  const result = sampleRunResult("run-a", 25);
  result.distributions = { encoding: "hdr-v2-base64", value_scale: 1000, histograms: { ttft_ms: "AAAA" } };
  source.finishRun(result, { terminal_text: "printed\n", tags: ["x", "y"] });
  source.history().accept("run-a");
  source.beginRun({
    run_id: "run-b",
    started_at: "2026-12-01T00:00:00.000Z",
    config: { target: "openai-chat" },
    machine: sampleMachine("other-host"),
    tool_version: "t",
  });
  source.appendRequests("run-b", [sampleRecord(0), sampleRecord(1)]);
  source.close();
  // The target has a machine of its own already: ids differ between the two files.
  const to = join(dir, "to.sqlite");
  const target = RunStore.open(to);
  target.finishRun({ ...sampleRunResult("run-local", 1), machine: sampleMachine("local-host") });
  target.close();

  const first = await runCli(["db", "copy", "--from", from, "--to", to]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(first.stdout, `copied 2 runs (27 requests) to ${to}; 0 were there already\n${NO_SEARCHES}`);
  const second = await runCli(["db", "copy", "--from", from, "--to", to]);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout, `copied 0 runs (0 requests) to ${to}; 2 were there already\n${NO_SEARCHES}`);
  const copied = runRowsOf(to).filter((run) => run.runs.id !== "run-local");
  assert.deepEqual(copied, runRowsOf(from));
  assert.equal(copied[0]?.baselines.length, 1, "the accepted baseline came along");
  assert.equal(copied[0]?.requests.length, 25);
});

test("db copy between two SQLite files: sweeps and tunes with their cells, replicates and trials, linked to their runs, once", async () => {
  const from = join(dir, "searches-from.sqlite");
  const source = RunStore.open(from);
  await storeSampleSearches(source);
  source.close();
  const to = join(dir, "searches-to.sqlite");
  const first = await runCli(["db", "copy", "--from", from, "--to", to]);
  assert.equal(first.code, 0, first.stderr);
  assert.equal(
    first.stdout,
    `copied 5 runs (15 requests) to ${to}; 0 were there already\ncopied 1 sweeps (1 cells; 0 were there already) and 1 tunes (2 trials; 0 were there already)\n`,
  );
  const second = await runCli(["db", "copy", "--from", from, "--to", to]);
  assert.equal(
    second.stdout,
    `copied 0 runs (0 requests) to ${to}; 5 were there already\ncopied 0 sweeps (0 cells; 1 were there already) and 0 tunes (0 trials; 1 were there already)\n`,
  );
  for (const view of SEARCH_VIEWS) {
    const a = await runCli([...view, "--db", from]);
    const b = await runCli([...view, "--db", to]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.stdout, a.stdout, view.join(" "));
  }
  // Every row, the replicates' links to their runs included.
  const rows = (path: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return ["sweeps", "sweep_runs", "sweep_cells", "sweep_queue", "tunes", "tune_trials"].map((table) =>
        db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2, 3`).all(),
      );
    } finally {
      db.close();
    }
  };
  assert.deepEqual(rows(to), rows(from));
  const shown = JSON.parse((await runCli(["show", SAMPLE_SWEEP_ID, "--json", "--db", to])).stdout);
  assert.deepEqual(shown.cells[0].run_ids, ["sweep-run-0", "sweep-run-1"]);
  assert.deepEqual(Object.keys(shown.pending_replicates), ["parallel=2"]);
  for (const runId of ["sweep-run-0", "sweep-run-1", "sweep-run-2"])
    assert.equal((await runCli(["show", runId, "--json", "--db", to])).code, 0, `run ${runId} copied`);
});

test("db copy refuses to copy a database onto itself, in one line", async () => {
  const path = join(dir, "self.sqlite");
  RunStore.open(path).close();
  const run = await runCli(["db", "copy", "--from", path, "--to", path]);
  assert.equal(run.code, 2, "a wrong command line");
  assert.match(
    run.stderr,
    /^tokbench: db copy: --from and --to are the same database \(.*\) \[INVALID_ARGUMENT\]\n$/,
  );
});
