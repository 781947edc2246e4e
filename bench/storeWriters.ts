/**
 * Many writers into one store: what a team's shared PostgreSQL takes, beside a SQLite file.
 *
 *   node dist/bench/storeWriters.js [--writers 8] [--requests 10000] [--rate 2000] [--delay 50]
 *                                   [--store both|postgres|sqlite] [--url postgres://...]
 *
 * `--writers` processes each run one benchmark run of `--requests` requests, appending a request
 * every 1/`--rate` s (per writer; 0: as fast as the writer can) as `tokbench bench` does when
 * they finish:
 * - PostgreSQL: through `PostgresRunRecorder`, i.e. the batched writer with a bound of `--delay`
 *   ms, into one database (a throwaway server from scripts/postgres-test-server.sh, unless
 *   `--url` names one);
 * - SQLite: through `RunRecorder` into one file, a commit per request, a request queued in memory
 *   while another writer holds the lock.
 * Printed per store: requests lost (appended but not in the database after every writer finished:
 * must be 0), write throughput (requests committed per second of wall time, from the first append
 * to the last writer's end), and the delay from a request's append to its commit: p50, p99, max,
 * and p99 of the requests appended once each writer is past its first second (its start-up:
 * connecting and writing the run row, which the first batch waits for, left out). A lost request
 * makes the exit code 1.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import type { RequestRecord } from "../src/results/RequestRecord.js";
import { PostgresRunRecorder } from "../src/storage/postgres/PostgresRunRecorder.js";
import { PostgresStore } from "../src/storage/postgres/PostgresStore.js";
import { RunRecorder } from "../src/storage/RunRecorder.js";
import { RunStore } from "../src/storage/RunStore.js";
import { collectMachineInfo } from "../src/system/machineInfo.js";
import { parseBenchArgs } from "./benchArgs.js";
import { syntheticRecord, syntheticRun } from "./syntheticRun.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["writers", "requests", "rate", "delay", "index"],
  options: {
    writers: { type: "string", default: "8" },
    requests: { type: "string", default: "10000" },
    rate: { type: "string", default: "2000" },
    delay: { type: "string", default: "50" },
    store: { type: "string", default: "both" },
    url: { type: "string" },
    child: { type: "string" },
    location: { type: "string" },
    index: { type: "string" },
  },
});
const writers = Number(values.writers);
const requests = Number(values.requests);
const rate = Number(values.rate);
const delayMs = Number(values.delay);
const SELF = fileURLToPath(import.meta.url);

interface WriterReport {
  appended: number;
  /** Delays from append to commit, ms, one per request. */
  delays: number[];
  /** The delays of requests appended a second or more after the writer's first: its start-up (connecting, the run row) left out. */
  steadyDelays: number[];
  firstAppendEpochMs: number;
  endEpochMs: number;
}

/** One writer process: appends `requests` requests at `rate`, records when each was committed. */
async function writer(kind: "postgres" | "sqlite", location: string, index: number): Promise<WriterReport> {
  const machine = await collectMachineInfo();
  const runId = `writer-${index}-${process.pid}`;
  const appendedAt = new Float64Array(requests);
  const committedAt = new Float64Array(requests).fill(Number.NaN);
  const begin = {
    run_id: runId,
    started_at: new Date().toISOString(),
    config: { target: "openai-chat", model: "bench" },
    machine,
    tool_version: "bench",
  };
  const markCommitted = (records: readonly RequestRecord[]) => {
    const now = performance.now();
    for (const r of records) if (Number.isNaN(committedAt[r.index])) committedAt[r.index] = now;
  };
  let append: (record: RequestRecord) => void;
  let finish: () => Promise<void>;
  if (kind === "postgres") {
    const store = await PostgresStore.open(location, { maxConnections: 2 });
    // Timing hook: the commit of a batch is when appendRequests resolves.
    const appendRequests = store.appendRequests.bind(store);
    store.appendRequests = async (id, records) => {
      await appendRequests(id, records);
      markCommitted(records);
    };
    const recorder = new PostgresRunRecorder(store, { maxDelayMs: delayMs });
    recorder.beginRun(begin);
    append = (record) => recorder.appendRequest(record);
    finish = async () => {
      const result = syntheticRun(machine, runId, begin.started_at, 0);
      const outcome = await recorder.finish({
        ...result,
        distributions: null,
        requests: [] as unknown as typeof result.requests,
      });
      if (!outcome.saved) throw outcome.error;
      await store.close();
    };
  } else {
    const store = RunStore.open(location);
    const appendOne = store.appendRequest.bind(store);
    store.appendRequest = (id, record) => {
      appendOne(id, record);
      markCommitted([record]);
    };
    const appendMany = store.appendRequests.bind(store);
    store.appendRequests = (id, records) => {
      appendMany(id, records);
      markCommitted(records);
    };
    const recorder = new RunRecorder(store, { retryIntervalMs: 10 });
    recorder.beginRun(begin);
    append = (record) => recorder.appendRequest(record);
    finish = async () => {
      const left = recorder.unstoredRequests();
      const result = syntheticRun(machine, runId, begin.started_at, 0);
      const outcome = await recorder.finish({
        ...result,
        distributions: null,
        requests: left as unknown as typeof result.requests,
      });
      markCommitted(left);
      if (!outcome.saved) throw outcome.error;
      store.close();
    };
  }
  const firstAppendEpochMs = Date.now();
  const start = performance.now();
  let next = 0;
  while (next < requests) {
    // Append what is due by now (all at once when --rate 0), then let I/O and timers run.
    const due =
      rate <= 0
        ? Math.min(requests, next + 200)
        : Math.min(requests, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    while (next < due) {
      appendedAt[next] = performance.now();
      append(syntheticRecord(next));
      next++;
    }
    await new Promise((resolve) => setTimeout(resolve, rate <= 0 ? 0 : 1));
  }
  await finish();
  const delays: number[] = [];
  const steadyDelays: number[] = [];
  for (let i = 0; i < requests; i++) {
    const delay = (committedAt[i] as number) - (appendedAt[i] as number);
    delays.push(delay);
    if ((appendedAt[i] as number) - start >= 1000) steadyDelays.push(delay);
  }
  return { appended: next, delays, steadyDelays, firstAppendEpochMs, endEpochMs: Date.now() };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

async function measure(kind: "postgres" | "sqlite", location: string): Promise<void> {
  const children = Array.from(
    { length: writers },
    (_, i) =>
      new Promise<WriterReport>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [
            SELF,
            "--child",
            kind,
            "--location",
            location,
            "--index",
            String(i),
            "--requests",
            String(requests),
            "--rate",
            String(rate),
            "--delay",
            String(delayMs),
          ],
          { stdio: ["ignore", "pipe", "inherit"] },
        );
        let out = "";
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
        });
        child.on("exit", (code) =>
          code === 0
            ? resolve(JSON.parse(out) as WriterReport)
            : reject(new Error(`writer ${i} exited ${code}`)),
        );
      }),
  );
  const reports = await Promise.all(children);
  let stored: number;
  if (kind === "postgres") {
    const store = await PostgresStore.open(location);
    stored = Number(
      (await store.query("count", "SELECT COUNT(*) AS n FROM requests WHERE run_id LIKE 'writer-%'")).rows[0]
        ?.n,
    );
    await store.close();
  } else {
    const db = new Database(location, { readonly: true });
    stored = db.prepare("SELECT COUNT(*) FROM requests WHERE run_id LIKE 'writer-%'").pluck().get() as number;
    db.close();
  }
  const appended = reports.reduce((sum, r) => sum + r.appended, 0);
  // A lost request fails the benchmark, not only its line.
  if (stored !== appended) process.exitCode = 1;
  const delays = reports.flatMap((r) => r.delays).sort((a, b) => a - b);
  const steady = reports.flatMap((r) => r.steadyDelays).sort((a, b) => a - b);
  const wallS =
    (Math.max(...reports.map((r) => r.endEpochMs)) - Math.min(...reports.map((r) => r.firstAppendEpochMs))) /
    1000;
  const fmt = (ms: number) => (Number.isFinite(ms) ? `${ms.toFixed(1)} ms` : "n/a");
  console.log(
    `${kind.padEnd(8)} writers ${writers} x ${requests}  lost ${appended - stored} (of ${appended})  throughput ${(stored / wallS).toFixed(0)} req/s over ${wallS.toFixed(1)} s  delay p50 ${fmt(percentile(delays, 0.5))}  p99 ${fmt(percentile(delays, 0.99))}  max ${fmt(delays[delays.length - 1] as number)}; after each writer's first second: p99 ${fmt(percentile(steady, 0.99))}`,
  );
}

if (values.child !== undefined) {
  const report = await writer(
    values.child as "postgres" | "sqlite",
    values.location as string,
    Number(values.index),
  );
  process.stdout.write(JSON.stringify(report));
} else {
  console.log(
    `store writers: ${writers} processes x ${requests} requests, ${rate > 0 ? `${rate} requests/s each` : "as fast as each can"}, batched writer delay bound ${delayMs} ms; load average ${(
      await import("node:os")
    )
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}`,
  );
  const dir = mkdtempSync(join(tmpdir(), "tokbench-store-writers-"));
  const script = fileURLToPath(new URL("../../scripts/postgres-test-server.sh", import.meta.url));
  try {
    if (values.store !== "sqlite") {
      let url = values.url;
      // Its own folder under the temp folder: the server may run as another user (postgres, under root).
      const serverDir = mkdtempSync(join(tmpdir(), "tokbench-pg-"));
      if (url === undefined)
        url = execFileSync("bash", [script, "start", serverDir], { encoding: "utf8" })
          .trim()
          .split("\n")
          .pop() as string;
      try {
        await measure("postgres", url);
      } finally {
        if (values.url === undefined) execFileSync("bash", [script, "stop", serverDir]);
      }
    }
    if (values.store !== "postgres") await measure("sqlite", join(dir, "runs.sqlite"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
