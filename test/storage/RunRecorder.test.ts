import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import type { RequestRecord } from "../../src/results/RequestRecord.js";
import { RecordedRequestLog } from "../../src/storage/RecordedRequestLog.js";
import { RunRecorder } from "../../src/storage/RunRecorder.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { sampleMachine, sampleRunResult } from "./fixtures/sampleRun.js";
import { holdWriteLock } from "./lockHolder.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-recorder-"));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function setup(options: ConstructorParameters<typeof RunRecorder>[1] = {}) {
  n++;
  const path = join(dir, `rec-${n}.sqlite`);
  const store = RunStore.open(path);
  const runId = `run-${n}`;
  const result = sampleRunResult(runId, 40);
  const spill = join(dir, `spill-${n}.ndjson`);
  const locked: string[] = [];
  const recorder = new RunRecorder(store, {
    spillPath: () => spill,
    onLocked: (phase) => locked.push(phase),
    ...options,
  });
  recorder.beginRun({
    ...result,
    config: { target: "openai-chat" },
    machine: sampleMachine(),
    tool_version: "0.1.0",
  });
  const records = result.requests.toArray() as RequestRecord[];
  return { path, store, runId, result, records, recorder, spill, locked };
}

test("unlocked: each request is committed the moment it is recorded", () => {
  const { store, runId, records, recorder } = setup();
  try {
    for (const [i, record] of records.entries()) {
      recorder.appendRequest(record);
      assert.equal(store.countRequests(runId), i + 1);
    }
    assert.equal(recorder.pendingRequests, 0);
  } finally {
    store.close();
  }
});

test("a lock held longer than the busy timeout: no append waits or throws, and the backlog is written once it is free", async () => {
  const { path, store, runId, result, records, recorder, locked } = setup({ retryIntervalMs: 20 });
  try {
    recorder.appendRequest(records[0] as RequestRecord);
    const holder = await holdWriteLock(path, 6000);
    const slowest = { ms: 0 };
    for (const record of records.slice(1, 30)) {
      const t = performance.now();
      recorder.appendRequest(record);
      slowest.ms = Math.max(slowest.ms, performance.now() - t);
    }
    assert.ok(slowest.ms < 100, `an append blocked for ${slowest.ms} ms`);
    assert.equal(store.countRequests(runId), 1);
    assert.equal(recorder.pendingRequests, 29);
    assert.deepEqual(locked, ["run"]);
    await holder.released;
    const deadline = performance.now() + 5000;
    while (store.countRequests(runId) < 30 && performance.now() < deadline) await sleep(20);
    assert.equal(store.countRequests(runId), 30, "written by the retry timer, before the run ends");
    for (const record of records.slice(30)) recorder.appendRequest(record);
    const outcome = await recorder.finish(result);
    assert.deepEqual(outcome, { saved: true, stored_requests: 40, error: null });
    assert.equal(store.getRun(runId).status, "completed");
  } finally {
    store.close();
  }
});

test("past the in-memory ceiling, requests go to the spill file; finish stores them all and removes it", async () => {
  const { path, store, runId, result, records, recorder, spill } = setup({ maxPendingRequests: 5 });
  try {
    const holder = await holdWriteLock(path, 1500);
    for (const record of records.slice(0, 20)) recorder.appendRequest(record);
    assert.equal(recorder.pendingRequests, 5, "the ceiling holds");
    const spilled = readFileSync(spill, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as RequestRecord);
    assert.deepEqual(
      spilled.map((r) => r.index),
      records.slice(5, 20).map((r) => r.index),
    );
    assert.deepEqual(spilled[0], JSON.parse(JSON.stringify(records[5])));
    for (const record of records.slice(20)) recorder.appendRequest(record);
    const outcome = await recorder.finish(result);
    await holder.released;
    assert.equal(outcome.saved, true);
    assert.equal(store.getRun(runId).requests.length, 40);
    assert.equal(existsSync(spill), false, "the spill file only repeated what is now stored");
  } finally {
    store.close();
  }
});

test("a lock held past finish's wait: not saved, DB_LOCKED, and what the database holds is counted", async () => {
  const { path, store, runId, result, records, recorder } = setup({ finishWaitMs: 600 });
  try {
    for (const record of records.slice(0, 10)) recorder.appendRequest(record);
    const holder = await holdWriteLock(path, 5000);
    try {
      for (const record of records.slice(10)) recorder.appendRequest(record);
      const t = performance.now();
      const outcome = await recorder.finish(result);
      assert.ok(performance.now() - t >= 500, "it waited");
      assert.equal(outcome.saved, false);
      assert.equal(outcome.stored_requests, 10);
      assert.ok(isTokbenchError(outcome.error, "DB_LOCKED"), String(outcome.error));
      assert.match(outcome.error?.message ?? "", /another process holds its write lock/);
      assert.equal(store.getRun(runId).status, "running");
    } finally {
      holder.kill();
    }
  } finally {
    store.close();
  }
});

test("quit under a lock: what is in memory goes to the spill file; unlocked, the run is marked interrupted", async () => {
  const locked = setup();
  try {
    for (const record of locked.records.slice(0, 3)) locked.recorder.appendRequest(record);
    const holder = await holdWriteLock(locked.path, 5000);
    try {
      for (const record of locked.records.slice(3, 12)) locked.recorder.appendRequest(record);
      const q = locked.recorder.quit("quit at once by a second SIGTERM", 100);
      assert.deepEqual(q, {
        stored_requests: 3,
        spilled_requests: 9,
        spill_path: locked.spill,
        lost_requests: 0,
      });
      const lines = readFileSync(locked.spill, "utf8").trim().split("\n");
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as RequestRecord).index),
        locked.records.slice(3, 12).map((r) => r.index),
      );
    } finally {
      holder.kill();
    }
  } finally {
    locked.store.close();
  }

  const free = setup();
  try {
    for (const record of free.records.slice(0, 7)) free.recorder.appendRequest(record);
    const q = free.recorder.quit("quit at once by a second SIGTERM");
    assert.deepEqual(q, { stored_requests: 7, spilled_requests: 0, spill_path: null, lost_requests: 0 });
    const run = free.store.getRun(free.runId);
    assert.equal(run.status, "interrupted");
    assert.equal(run.status_reason, "quit at once by a second SIGTERM");
    assert.equal(run.summary, null);
    assert.ok(run.ended_at !== null);
  } finally {
    free.store.close();
  }
});

test("locked before the run row is written: the row and the requests wait, in order", async () => {
  n++;
  const path = join(dir, `rec-${n}.sqlite`);
  const store = RunStore.open(path);
  try {
    const holder = await holdWriteLock(path, 800);
    const result = sampleRunResult("late-row", 5);
    const recorder = new RunRecorder(store, { retryIntervalMs: 20 });
    recorder.beginRun({ ...result, config: {}, machine: sampleMachine(), tool_version: "0.1.0" });
    for (const record of result.requests) recorder.appendRequest(record);
    assert.equal(recorder.pendingRequests, 5);
    await holder.released;
    const deadline = performance.now() + 5000;
    while (recorder.pendingRequests > 0 && performance.now() < deadline) await sleep(20);
    assert.equal(store.countRequests("late-row"), 5);
    assert.equal(store.getRun("late-row").status, "running");
  } finally {
    store.close();
  }
});

test("read back through the recorder under a lock: stored and held requests (spill file included) merged in index order, each stored once in the end", async () => {
  const { path, store, runId, result, records, recorder, spill } = setup({ maxPendingRequests: 5 });
  try {
    // Requests finish out of index order, as concurrent ones do.
    const order = [...records].sort((a, b) => ((a.index * 7) % 40) - ((b.index * 7) % 40));
    for (const record of order.slice(0, 8)) recorder.appendRequest(record);
    const holder = await holdWriteLock(path, 1500);
    const log = new RecordedRequestLog(store, recorder, runId);
    for (const record of order.slice(8)) log.push(record);
    assert.equal(store.countRequests(runId), 8);
    assert.equal(recorder.pendingRequests, 5);
    assert.ok(existsSync(spill), "past the ceiling, the spill file");
    const sorted = JSON.parse(JSON.stringify(records)) as RequestRecord[];
    assert.deepEqual(log.toArray(), sorted, "every request, once, in index order, while locked");
    const outcome = await recorder.finish({ ...result, requests: log });
    await holder.released;
    assert.equal(outcome.saved, true);
    assert.equal(outcome.stored_requests, 40);
    assert.deepEqual(store.getRun(runId).requests.toArray(), sorted);
    assert.deepEqual(log.toArray(), sorted, "and the same once stored");
    assert.equal(existsSync(spill), false);
  } finally {
    store.close();
  }
});

test("a storage error mid-run drops no request: the rest wait for finish, which reports the error", async () => {
  const { store, runId, result, records, recorder } = setup();
  try {
    for (const record of records.slice(0, 4)) recorder.appendRequest(record);
    // The run row is gone: every later insert breaks its foreign key (DB_WRITE_FAILED, not a lock).
    store.deleteRun(runId);
    for (const record of records.slice(4)) recorder.appendRequest(record);
    assert.deepEqual(
      recorder.unstoredRequests().map((r) => r.index),
      records.slice(4).map((r) => r.index),
    );
    const outcome = await recorder.finish(result);
    // finish() writes the run row again, with every request it holds or the result carries.
    assert.equal(outcome.saved, true);
    assert.equal(store.countRequests(runId), 40);
  } finally {
    store.close();
  }
});
