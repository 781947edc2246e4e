import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import type { ResourcePoint } from "../../src/results/ResourceTimeline.js";
import { MIGRATIONS } from "../../src/storage/migrations.js";
import { RecordedRequestLog } from "../../src/storage/RecordedRequestLog.js";
import { RunRecorder } from "../../src/storage/RunRecorder.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { SpillFileRequestLog } from "../../src/storage/SpillFileRequestLog.js";
import { MAX_TIMELINE_POINTS, ResourceTimelineBuilder } from "../../src/system/ResourceTimelineBuilder.js";
import { sampleRecord, sampleRunResult } from "./fixtures/sampleRun.js";

describe("run history storage", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-history-store-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("migrates a schema-1 database and lists its runs from their stored summaries", async () => {
    const path = join(dir, "v1.sqlite");
    // A database as the first tokbench release wrote it, with one finished run.
    const old = new Database(path);
    old.exec(MIGRATIONS[0] as string);
    old.pragma("user_version = 1");
    const run = sampleRunResult("legacy-run", 6);
    old
      .prepare(
        `INSERT INTO machines (id, fingerprint, hostname, os, os_release, arch, cpu_model, cpu_cores, total_memory_bytes, node_version, gpus_json, first_seen_at)
         VALUES (1, 'f', 'old-host', 'os', 'r', 'x64', 'cpu', 2, 1, 'v20', '[]', '2024-01-01T00:00:00Z')`,
      )
      .run();
    old
      .prepare(
        `INSERT INTO runs (id, result_schema_version, tool_version, started_at, ended_at, status, target_kind, model, machine_id, config_json, summary_json, writer_pid, writer_hostname)
         VALUES ('legacy-run', 1, '0.0.9', '2024-01-02T00:00:00Z', '2024-01-02T00:01:00Z', 'completed', 'openai-chat', 'old-model', 1, ?, ?, 1, 'old-host')`,
      )
      .run(JSON.stringify(run.config), JSON.stringify(run.summary));
    const insert = old.prepare(
      "INSERT INTO requests (run_id, idx, planned_offset_ms, sent_offset_ms, dispatch_lag_ms, e2e_ms, output_tokens, token_source, chunks, flags_json, error_code) VALUES ('legacy-run', ?, 0, 0, 0, 1, 1, 'usage', 1, '[]', ?)",
    );
    for (let i = 0; i < 6; i++) insert.run(i, i === 2 ? "REQUEST_TIMEOUT" : null);
    old.close();

    const store = RunStore.open(path);
    try {
      const history = store.history();
      const { runs, total } = await history.listRuns();
      assert.equal(total, 1);
      const item = runs[0];
      assert.equal(item?.run_id, "legacy-run");
      assert.equal(item?.requests, 6);
      assert.equal(item?.failed_requests, 1);
      assert.equal(item?.headline?.ttft_p50_ms, run.summary.ttft_ms.p50);
      assert.equal(item?.workload, null);
      assert.equal(await history.distributions("legacy-run"), null);
      assert.equal(await history.terminalText("legacy-run"), null);
      assert.equal((await history.readRun("legacy-run")).request_count, 6);
    } finally {
      store.close();
    }
  });

  it("writes a run's distributions, time series, output text (secrets redacted) and tags with the run", async () => {
    const store = RunStore.open(join(dir, "attachments.sqlite"));
    try {
      const result = sampleRunResult("with-extras", 4);
      const timeline: ResourcePoint[] = [0, 1, 2].map((i) => ({
        offset_ms: i * 250,
        span_ms: 250,
        rss_bytes: 1e8 + i,
        cpu_percent: i === 0 ? null : 50 + i,
        gpu_memory_bytes: null,
        gpu_utilization_percent: null,
        disk_read_bytes: i * 4096,
        disk_write_bytes: 0,
      }));
      result.distributions = {
        encoding: "hdr-v2-base64",
        value_scale: 1000,
        histograms: { ttft_ms: "AAAA" },
      };
      result.resource_timeline = timeline;
      store.finishRun(result, {
        terminal_text: "error: key sk-secret-1234 refused\n",
        secrets: ["sk-secret-1234"],
        tags: ["nightly"],
      });
      const history = store.history();
      assert.deepEqual(await history.resourceTimeline("with-extras"), timeline);
      assert.deepEqual(await history.distributions("with-extras"), result.distributions);
      assert.equal(await history.terminalText("with-extras"), "error: key *** refused\n");
      assert.deepEqual((await history.readRun("with-extras")).tags, ["nightly"]);
      // Finishing again replaces, never duplicates.
      store.finishRun(result, { terminal_text: "again\n" });
      assert.equal((await history.resourceTimeline("with-extras")).length, 3);
      assert.equal(await history.terminalText("with-extras"), "again\n");
    } finally {
      store.close();
    }
  });

  it("a recorded request log commits each record at once and reads them back in index order", async () => {
    const store = RunStore.open(join(dir, "log.sqlite"));
    try {
      const run = sampleRunResult("logged", 0);
      const recorder = new RunRecorder(store);
      recorder.beginRun({ ...run, tool_version: "0.1.0" });
      const log = new RecordedRequestLog(store, recorder, "logged");
      // Finished out of index order, as concurrent requests do.
      for (const i of [1, 0, 3, 2, 4]) log.push(sampleRecord(i));
      // Committed before the run ends: another reader sees them.
      assert.equal((await store.history().listRuns()).runs[0]?.requests, 5);
      assert.equal(recorder.pendingRequests, 0);
      assert.equal(log.finish().length, 5);
      assert.deepEqual(log.toArray(), [0, 1, 2, 3, 4].map(sampleRecord));
      const outcome = await recorder.finish({ ...run, requests: log });
      assert.equal(outcome.saved, true);
      assert.equal(outcome.stored_requests, 5);
      assert.deepEqual(store.getRun("logged").requests.toArray(), [0, 1, 2, 3, 4].map(sampleRecord));
    } finally {
      store.close();
    }
  });

  it("a spill file round-trips records exactly, over several write chunks", () => {
    const log = new SpillFileRequestLog(dir);
    try {
      const n = 6000; // ~4 MB of JSON: several 1 MiB chunks each way
      for (let i = 0; i < n; i++)
        log.push({
          ...sampleRecord(i),
          error: i === 7 ? { code: "X", message: "naïve – ünïcode ✓", status: null } : sampleRecord(i).error,
        });
      log.finish();
      assert.equal(log.length, n);
      let i = 0;
      for (const record of log) {
        assert.deepEqual(record, {
          ...sampleRecord(i),
          error: i === 7 ? { code: "X", message: "naïve – ünïcode ✓", status: null } : sampleRecord(i).error,
        });
        i++;
      }
      assert.equal(i, n);
    } finally {
      log.close();
    }
  });

  it("a spill file gives its records back in index order, whatever order they finished in, over several read windows", () => {
    const log = new SpillFileRequestLog(dir);
    try {
      const n = 6000;
      const record = (i: number) => ({
        ...sampleRecord(i),
        error:
          i % 97 === 0
            ? { code: "X", message: `naïve – ünïcode ✓ ${"é".repeat(i % 300)}`, status: null }
            : null,
      });
      // Finish order: mostly in order with a window of 32 shuffled, and a few stragglers finishing last.
      const order: number[] = [];
      for (let base = 0; base < n; base += 32) {
        const block = Array.from({ length: Math.min(32, n - base) }, (_, k) => base + k).filter(
          (i) => i % 1000 !== 5,
        );
        for (let k = block.length - 1; k > 0; k--) {
          const j = (k * 7919) % (k + 1);
          [block[k], block[j]] = [block[j] as number, block[k] as number];
        }
        order.push(...block);
      }
      order.push(5, 4005, 1005, 3005, 2005, 5005);
      assert.equal(order.length, n);
      order.forEach((i, k) => {
        log.push(record(i));
        // Read back in the middle of the run too: what is pushed later is not lost.
        if (k === 100) assert.equal([...log.inIndexOrder()].length, 101);
      });
      log.finish();
      let i = 0;
      for (const got of log.inIndexOrder()) {
        assert.deepEqual(got, record(i), `record ${i}`);
        i++;
      }
      assert.equal(i, n);
      // Iterating the log itself still gives the finish order.
      assert.deepEqual(
        [...log].slice(0, 40).map((r) => r.index),
        order.slice(0, 40),
      );
    } finally {
      log.close();
    }
  });

  it("the resource timeline stays bounded and keeps its time-weighted means when merged", () => {
    const builder = new ResourceTimelineBuilder();
    for (let i = 0; i < 3 * MAX_TIMELINE_POINTS; i++) {
      builder.add({
        offset_ms: i * 100,
        span_ms: 100,
        rss_bytes: i,
        cpu_percent: i % 2 === 0 ? 100 : 0,
        gpu_memory_bytes: null,
        gpu_utilization_percent: null,
        disk_read_bytes: i,
        disk_write_bytes: null,
      });
    }
    const points = builder.toArray();
    assert.ok(
      points.length < MAX_TIMELINE_POINTS && points.length >= MAX_TIMELINE_POINTS / 4,
      String(points.length),
    );
    const total = points.reduce((s, p) => s + p.span_ms, 0);
    assert.equal(total, 3 * MAX_TIMELINE_POINTS * 100);
    for (const p of points) assert.equal(p.cpu_percent, 50);
    assert.equal(points[points.length - 1]?.rss_bytes, 3 * MAX_TIMELINE_POINTS - 1);
    for (let i = 1; i < points.length; i++) {
      const prev = points[i - 1] as ResourcePoint;
      assert.equal((points[i] as ResourcePoint).offset_ms, prev.offset_ms + prev.span_ms);
    }
  });
});
