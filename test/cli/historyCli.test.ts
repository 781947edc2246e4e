import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { MockServer } from "../../src/mock/MockServer.js";
import type { RunResult } from "../../src/results/RunResult.js";
import { HistogramBuckets } from "../../src/stats/HistogramBuckets.js";
import type { RunListItem } from "../../src/storage/RunHistory.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { runCli } from "./runCli.js";

describe("tokbench runs and show (CLI, real SQLite)", () => {
  let dir: string;
  let mock: MockServer;
  let url: string;
  let db: string;
  const bench = (...extra: string[]) =>
    runCli([
      "bench",
      "--url",
      url,
      "--model",
      "tiny-model",
      "-n",
      "10",
      "-c",
      "2",
      "--max-tokens",
      "6",
      "--prompt-tokens",
      "16",
      // --no-save with --db is refused: a run not stored names no database.
      ...(extra.includes("--no-save") ? [] : ["--db", db]),
      ...extra,
    ]);
  const list = async (...extra: string[]): Promise<{ total: number; runs: RunListItem[] }> => {
    const run = await runCli(["runs", "--db", db, "--json", ...extra]);
    assert.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as { total: number; runs: RunListItem[] };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-history-"));
    db = join(dir, "history.sqlite");
    mock = new MockServer({ ttftMs: 3, itlMs: 1, timings: true });
    url = await mock.start();
  });
  after(async () => {
    await mock.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("show prints a run exactly as bench printed it, and show --json exactly what bench --json printed", async () => {
    const text = await bench("--tag", "baseline", "--tag", "ci");
    assert.equal(text.code, 0, text.stderr);
    const json = await bench("--json");
    assert.equal(json.code, 0, json.stderr);
    const result = JSON.parse(json.stdout) as RunResult;
    assert.equal(result.requests.length, 10);
    assert.ok(!("distributions" in result), "the histograms are not part of --json");

    const shownJson = await runCli(["show", "last", "--db", db, "--json"]);
    assert.equal(shownJson.code, 0, shownJson.stderr);
    assert.equal(shownJson.stdout, json.stdout);
    const prefix = result.run_id.slice(0, 6);
    assert.equal((await runCli(["show", prefix, "--db", db, "--json"])).stdout, json.stdout);

    const { runs } = await list("--tag", "baseline");
    assert.equal(runs.length, 1);
    const shownText = await runCli(["show", (runs[0] as RunListItem).run_id, "--db", db]);
    assert.equal(shownText.code, 0, shownText.stderr);
    assert.equal(shownText.stdout, text.stdout);
  });

  it("keeps each run's distributions and resource time series in the database", async () => {
    const store = RunStore.open(db);
    try {
      const history = store.history();
      const id = await history.resolveRun("last");
      const run = await history.readRun(id);
      const stored = await history.distributions(id);
      assert.ok(stored !== null);
      for (const metric of ["ttft_ms", "itl_ms", "e2e_ms", "chunk_gap_ms"] as const) {
        const h = HistogramBuckets.decode(stored.histograms[metric] as string, stored.value_scale);
        assert.equal(h.count, run.summary?.[metric].count, metric);
        const p50 = run.summary?.[metric].p50 as number;
        assert.ok(
          Math.abs(h.quantile(0.5) - p50) <= p50 * 0.002,
          `${metric} p50 ${h.quantile(0.5)} vs ${p50}`,
        );
      }
    } finally {
      store.close();
    }
  });

  it("lists runs newest first with filters, and resolves ids, prefixes and last", async () => {
    const all = await list();
    assert.equal(all.total, 2);
    assert.ok((all.runs[0] as RunListItem).started_at >= (all.runs[1] as RunListItem).started_at);
    for (const run of all.runs) {
      assert.equal(run.status, "completed");
      assert.equal(run.requests, 10);
      assert.equal(run.model, "tiny-model");
      assert.match(run.workload ?? "", /c2, 16→6 tok/);
      assert.ok((run.headline?.ttft_p50_ms ?? 0) > 0);
    }
    assert.deepEqual(
      (await list("--tag", "ci")).runs.map((r) => r.tags),
      [["baseline", "ci"]],
    );
    assert.equal((await list("--model", "TINY")).total, 2);
    assert.equal((await list("--model", "other")).total, 0);
    assert.equal((await list("--status", "aborted")).total, 0);
    assert.equal((await list("--since", "1d")).total, 2);
    assert.equal((await list("--since", "2000-01-01", "--target", "ollama")).total, 0);
    assert.equal((await list("--limit", "1")).runs.length, 1);
    const table = await runCli(["runs", "--db", db, "--limit", "1"]);
    assert.match(table.stdout, /1 older run/);

    const missing = await runCli(["show", "nope", "--db", db]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no run nope .*RUN_NOT_FOUND/);
    const badSince = await runCli(["runs", "--db", db, "--since", "yesterday"]);
    assert.notEqual(badSince.code, 0);
    assert.match(badSince.stderr, /--since yesterday: give a duration/);
  });

  it("refuses an ambiguous prefix and names the candidates", async () => {
    const store = RunStore.open(db);
    const raw = new Database(db);
    try {
      // Two ids sharing a prefix, as a database of thousands of runs has.
      const { runs } = await store.history().listRuns();
      const row = raw
        .prepare("SELECT * FROM runs WHERE id = ?")
        .get((runs[0] as RunListItem).run_id) as Record<string, unknown>;
      for (const id of ["abc00000-0000-4000-8000-000000000001", "abc00000-0000-4000-8000-000000000002"]) {
        raw
          .prepare(
            `INSERT INTO runs (${Object.keys(row).join(", ")}) VALUES (${Object.keys(row)
              .map((k) => `@${k}`)
              .join(", ")})`,
          )
          .run({ ...row, id });
      }
    } finally {
      raw.close();
      store.close();
    }
    const ambiguous = await runCli(["show", "abc0", "--db", db]);
    assert.equal(ambiguous.code, 1);
    assert.match(
      ambiguous.stderr,
      /abc0 matches several runs \(abc00000-0000-4000-8000-000000000001, abc00000-.*RUN_AMBIGUOUS/,
    );
    const deleted = await runCli([
      "runs",
      "--db",
      db,
      "--delete",
      "abc00000-0000-4000-8000-000000000001",
      "abc00000-0000-4000-8000-000000000002",
    ]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, /deleted 2 runs/);
  });

  it("deletes runs with everything stored for them, and prunes old runs but keeps accepted baselines", async () => {
    const before = await list();
    const [newer, older] = before.runs as [RunListItem, RunListItem];
    const accepted = await runCli(["accept", older.run_id, "--db", db]);
    assert.equal(accepted.code, 0, accepted.stderr);
    const pruned = await runCli(["runs", "--db", db, "--prune", "2999-01-01", "--json"]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.deepEqual((JSON.parse(pruned.stdout) as { deleted: string[] }).deleted, [newer.run_id]);
    assert.deepEqual(
      (await list()).runs.map((r) => r.run_id),
      [older.run_id],
    );
    const gone = await runCli(["runs", "--db", db, "--delete", older.run_id.slice(0, 8)]);
    assert.equal(gone.code, 0, gone.stderr);
    assert.equal((await list()).total, 0);
    const raw = new Database(db, { readonly: true });
    try {
      for (const table of [
        "requests",
        "tests",
        "run_tags",
        "run_distributions",
        "resource_samples",
        "run_outputs",
        "baselines",
      ]) {
        assert.equal((raw.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n, 0, table);
      }
    } finally {
      raw.close();
    }
    const empty = await runCli(["show", "last", "--db", db]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /RUN_NOT_FOUND/);
  });

  it("--no-save --json still prints every request, read back from a spill file", async () => {
    const run = await bench("--no-save", "--json");
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as RunResult;
    assert.equal(result.requests.length, 10);
    assert.deepEqual(
      (result.requests as unknown as { index: number }[]).map((r) => r.index).sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.equal((await list()).total, 0);
  });
});
