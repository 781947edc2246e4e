import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MockServer } from "../../src/mock/MockServer.js";
import { PostgresStore } from "../../src/storage/postgres/PostgresStore.js";
import { freshDatabase, serverPassword } from "../storage/postgres/fixtures/postgresServer.js";
import { CLI, mockBenchArgs, runCli } from "./runCli.js";

const MAX_TOKENS = 6;

describe("tokbench bench --db postgres://", () => {
  it("stores a whole run (requests, summary, facts, output) and never shows the password", async () => {
    const mock = new MockServer({ ttftMs: 2, itlMs: 1 });
    const url = await mock.start();
    const db = await freshDatabase("bench_cli");
    const password = serverPassword();
    try {
      const run = await runCli([
        ...mockBenchArgs(url, db, { requests: 40, concurrency: 4, maxTokens: 4 }),
        "--tag",
        "pg",
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), run.stderr);
      assert.match(run.stderr, /saved to postgres:\/\/\[redacted\]@127\.0\.0\.1:\d+\//);
      // Through TOKBENCH_DB too.
      const viaEnv = await runCli(
        mockBenchArgs(url, "", { requests: 10, concurrency: 2, maxTokens: 4 }).filter(
          (a, i, all) => a !== "--db" && all[i - 1] !== "--db",
        ),
        { env: { TOKBENCH_DB: db } },
      );
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      const store = await PostgresStore.open(db);
      try {
        const runs = await store.query(
          "read",
          "SELECT r.id, r.status, r.summary_json IS NOT NULL AS has_summary, f.requests_total, (SELECT COUNT(*) FROM requests q WHERE q.run_id = r.id) AS stored, (SELECT COUNT(*) FROM run_outputs o WHERE o.run_id = r.id) AS outputs, (SELECT string_agg(tag, ',') FROM run_tags t WHERE t.run_id = r.id) AS tags FROM runs r JOIN run_facts f ON f.run_id = r.id ORDER BY r.started_at",
        );
        assert.deepEqual(
          runs.rows.map((r) => [r.status, r.has_summary, r.requests_total, r.stored, r.outputs, r.tags]),
          [
            ["completed", true, 40, 40, 1, "pg"],
            ["completed", true, 10, 10, 1, null],
          ],
        );
        const dump = await store.query("dump", "SELECT string_agg(r::text, '|') AS t FROM runs r");
        assert.ok(!String(dump.rows[0]?.t).includes(password));
      } finally {
        await store.close();
      }
    } finally {
      await mock.close();
    }
  });

  it("bench --json prints its records in index order from its spill file, as show --json prints them", async () => {
    // The records go to the database and a spill file; --json reads that file back in index order
    // one record at a time (SpillFileRequestLog.inIndexOrder), no longer sorting them all in memory.
    const mock = new MockServer({ ttftMs: 0, itlMs: 0 });
    const url = await mock.start();
    const db = await freshDatabase("bench_stream");
    try {
      const n = 5_000;
      const run = await runCli([
        ...mockBenchArgs(url, db, { requests: n, concurrency: 32, maxTokens: 2 }),
        "--json",
      ]);
      assert.equal(run.code, 0, run.stderr.slice(-2000));
      const printed = JSON.parse(run.stdout) as { run_id: string; requests: { index: number }[] };
      assert.equal(printed.requests.length, n);
      assert.ok(
        printed.requests.every((r, i) => r.index === i),
        "in index order",
      );
      const shown = await runCli(["show", printed.run_id, "--json", "--db", db]);
      assert.equal(shown.code, 0, shown.stderr);
      assert.ok(shown.stdout === run.stdout, "show --json prints what bench --json printed");
    } finally {
      await mock.close();
    }
  });

  it("an unreachable PostgreSQL stops bench before the run, in one line without the password", async () => {
    const mock = new MockServer({ ttftMs: 1, itlMs: 1 });
    const url = await mock.start();
    const db = new URL(await freshDatabase("unreachable"));
    db.port = "9";
    try {
      const run = await runCli(mockBenchArgs(url, db.href, { requests: 5, concurrency: 1, maxTokens: 1 }));
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^tokbench: cannot open in PostgreSQL database postgres:\/\/\[redacted\]@127\.0\.0\.1:9\/.*ECONNREFUSED.*\[DB_OPEN_FAILED\]\n$/,
      );
      assert.ok(!run.stderr.includes(serverPassword()));
      assert.equal(mock.stats.requests, 0, "no request was sent");
    } finally {
      await mock.close();
    }
  });

  it("SIGKILL half-way keeps every request finished more than the writer's delay (plus one commit) before the kill", async () => {
    const finishedAt: number[] = [];
    const mock = new MockServer({
      ttftMs: 2,
      itlMs: 2,
      onChunkSent(_id, chunkIndex, _tokens, atMs) {
        if (chunkIndex === MAX_TOKENS - 1) finishedAt.push(atMs);
      },
    });
    const url = await mock.start();
    const db = await freshDatabase("bench_sigkill");
    const child = spawn(
      process.execPath,
      [CLI, ...mockBenchArgs(url, db, { requests: 100_000, concurrency: 4, maxTokens: MAX_TOKENS })],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    try {
      const deadline = performance.now() + 30_000;
      while (finishedAt.length < 300 && performance.now() < deadline) await sleep(20);
      assert.ok(finishedAt.length >= 300, `the run did not get going: ${stderr}`);
      const killAt = performance.now();
      child.kill("SIGKILL");
      assert.equal(await exited, "SIGKILL");
      // The writer's bound is 50 ms plus one commit; 250 ms leaves room for this loaded machine's
      // scheduler while hundreds of requests still finish inside the margin.
      const settledBeforeKill = finishedAt.filter((t) => t < killAt - 250).length;
      const store = await PostgresStore.open(db);
      try {
        const runs = await store.query("read", "SELECT id, status FROM runs");
        assert.equal(runs.rows.length, 1, "the run row was written when the run started");
        assert.equal(runs.rows[0]?.status, "running");
        const stored = await store.countRequests(String(runs.rows[0]?.id));
        assert.ok(
          stored >= settledBeforeKill,
          `${stored} stored, ${settledBeforeKill} finished > 250 ms before the kill`,
        );
        assert.ok(stored <= finishedAt.length);
        assert.ok(settledBeforeKill > 100, `${settledBeforeKill} requests inside the check`);
      } finally {
        await store.close();
      }
    } finally {
      child.kill("SIGKILL");
      await mock.close();
    }
  });
});
