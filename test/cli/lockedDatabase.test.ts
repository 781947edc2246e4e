import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import Database from "better-sqlite3";
import { MockServer } from "../../src/mock/MockServer.js";
import type { RequestRecord } from "../../src/results/RequestRecord.js";
import type { RunResult } from "../../src/results/RunResult.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { holdWriteLock, type LockHolder } from "../storage/lockHolder.js";
import { mockBenchArgs, runCli, startCli, storedRequests, waitFor } from "./runCli.js";

const MAX_TOKENS = 10;

describe("another process holds the database's write lock during a run", () => {
  let dir: string;
  let mock: MockServer;
  let url: string;
  /** When each request's last chunk left the mock (`performance.now()`). */
  const finishedAt: number[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-locked-"));
    mock = new MockServer({
      ttftMs: 5,
      itlMs: 8,
      onChunkSent(_id, chunk, _tokens, at) {
        if (chunk === MAX_TOKENS - 1) finishedAt.push(at);
      },
    });
    url = await mock.start();
  });
  after(async () => {
    await mock.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("a lock held longer than the busy timeout: every request is stored, the run completes and prints", async () => {
    finishedAt.length = 0;
    const db = join(dir, "locked.sqlite");
    let holder: LockHolder | null = null;
    // --json: the records printed at the end are read back from the database and the recorder's
    // backlog (the lock is still held then), none held in a table of the whole run.
    const run = runCli([
      ...mockBenchArgs(url, db, { requests: 60, concurrency: 2, maxTokens: MAX_TOKENS }),
      "--json",
    ]);
    try {
      await waitFor("10 stored requests", () => storedRequests(db) >= 10);
      // 7 s: longer than the 5 s busy timeout, and past the end of the run (about 3 s).
      holder = await holdWriteLock(db, 7000);
      const lockedAt = holder.lockedAt;
      const result = await run;
      const releasedAt = await holder.released;
      assert.equal(result.code, 0, result.stderr);
      const printed = JSON.parse(result.stdout) as RunResult & { requests: RequestRecord[] };
      assert.equal(printed.summary.requests.succeeded, 60);
      assert.deepEqual(
        printed.requests.map((r) => r.index),
        Array.from({ length: 60 }, (_, i) => i),
        "every request once, in index order, though most were not stored when printed",
      );
      assert.match(result.stderr, /is locked by another process; finished requests wait in memory/);
      assert.match(result.stderr, /waiting up to 60 s to store the run/);
      assert.match(result.stderr, /saved to/);
      const duringLock = finishedAt.filter((t) => t > lockedAt && t < releasedAt).length;
      assert.ok(duringLock >= 10, `only ${duringLock} requests finished while the lock was held`);

      const store = RunStore.open(db);
      try {
        const [entry] = store.listRuns();
        assert.ok(entry);
        const stored = store.getRun(entry.run_id);
        assert.equal(stored.status, "completed");
        assert.ok(stored.summary !== null);
        assert.equal(stored.summary.requests.succeeded, 60);
        const records = stored.requests.toArray() as RequestRecord[];
        assert.deepEqual(
          records.map((r) => r.index),
          Array.from({ length: 60 }, (_, i) => i),
        );
        assert.deepEqual(records, printed.requests, "what was printed is what is stored");
        const shown = await runCli(["show", entry.run_id, "--db", db, "--json"]);
        assert.equal(shown.stdout, result.stdout, "show --json prints what bench --json printed");
        // The lock never held up the measurement: no request took seconds.
        const slowest = Math.max(...records.map((r) => r.e2e_ms));
        assert.ok(slowest < 2000, `a request took ${slowest} ms: the event loop was blocked`);
      } finally {
        store.close();
      }
    } finally {
      holder?.kill();
      await run;
    }
  });

  it("SIGTERM, then SIGTERM again while storing waits for the lock: the result goes to a file, nothing is lost", async () => {
    finishedAt.length = 0;
    const db = join(dir, "quit.sqlite");
    let holder: LockHolder | null = null;
    const cli = startCli(
      mockBenchArgs(url, db, { requests: 100_000, concurrency: 2, maxTokens: MAX_TOKENS }),
    );
    try {
      await waitFor("5 stored requests", () => storedRequests(db) >= 5);
      holder = await holdWriteLock(db, 60_000);
      await waitFor(
        "requests finished under the lock",
        () => finishedAt.filter((t) => t > (holder as LockHolder).lockedAt).length >= 10,
      );
      cli.child.kill("SIGTERM");
      const firstAt = performance.now();
      await waitFor("the wait for the lock", () => cli.stderr().includes("waiting up to 60 s"));
      // The same signal within 250 ms of the first counts as the same request (a terminal and a
      // parent may both deliver it), so the second one must come later to mean "quit at once".
      await sleep(Math.max(0, firstAt + 400 - performance.now()));
      const quitAt = performance.now();
      cli.child.kill("SIGTERM");
      const result = await cli.done;
      assert.ok(performance.now() - quitAt < 3000, `the second signal quits at once: ${cli.stderr()}`);
      assert.equal(result.code, 143, result.stderr);
      assert.match(result.stdout, /requests: \d+ succeeded, 0 failed/);
      assert.match(result.stdout, /interrupted: stopped by SIGTERM/);
      const file = /the complete result is in (\S+)/.exec(result.stderr)?.[1];
      assert.ok(file !== undefined, result.stderr);
      assert.equal(file, join(dir, file.slice(dir.length + 1)), "written beside the database");
      const saved = JSON.parse(readFileSync(file, "utf8")) as RunResult & { requests: RequestRecord[] };
      assert.equal(saved.status, "interrupted");
      const succeeded = Number(/requests: (\d+) succeeded/.exec(result.stdout)?.[1]);
      assert.equal(saved.requests.filter((r) => r.error === null).length, succeeded);
      assert.equal(saved.summary.requests.succeeded, succeeded);
      assert.ok(!(await readdir(dir)).some((f) => f.endsWith(".requests.ndjson")), "no stale spill file");
    } finally {
      holder?.kill();
      cli.child.kill("SIGKILL");
      await cli.done;
    }
    // Once the lock is gone, the database holds what it stored before the lock, as `running`.
    await sleep(200);
    const sqlite = new Database(db, { readonly: true });
    try {
      assert.ok((sqlite.prepare("SELECT COUNT(*) FROM requests").pluck().get() as number) >= 5);
    } finally {
      sqlite.close();
    }
  });

  it("Ctrl-C while a finished run waits for the lock: it stops waiting and writes the result to a file", async () => {
    const db = join(dir, "wait.sqlite");
    RunStore.open(db).close();
    const holder = await holdWriteLock(db, 60_000);
    const cli = startCli(mockBenchArgs(url, db, { requests: 8, concurrency: 2, maxTokens: MAX_TOKENS }));
    try {
      await waitFor("the wait for the lock", () => cli.stderr().includes("(Ctrl-C stops waiting"));
      cli.child.kill("SIGINT");
      const result = await cli.done;
      assert.equal(result.code, 130, result.stderr);
      assert.match(result.stdout, /requests: 8 succeeded, 0 failed/);
      assert.match(
        result.stderr,
        /could not be stored whole: .*another process holds its write lock \[DB_LOCKED\]/,
      );
      assert.match(result.stderr, /the database holds 0 of its 8 requests and no summary/);
      const file = /the complete result \(as --json prints it\) is in (\S+)/.exec(result.stderr)?.[1];
      assert.ok(file !== undefined, result.stderr);
      const saved = JSON.parse(readFileSync(file, "utf8")) as RunResult & { requests: RequestRecord[] };
      assert.equal(saved.status, "completed");
      assert.equal(saved.requests.length, 8);
    } finally {
      holder.kill();
      cli.child.kill("SIGKILL");
      await cli.done;
    }
  });
});
