/**
 * Benchmark of tokbench's own measurement harness against the mock server (run in a separate
 * process): how far the client's chunk timestamps are from the true send times, how late the
 * dispatcher sends, at 1, 64, 512 and 2,000 concurrent streams (open-loop arrivals at the rate that
 * keeps that many in flight, capped there; "peak" is the concurrency reached); and peak RSS over a
 * long closed-loop run.
 *
 *   node dist/bench/harness.js [--streams 1,64,512,2000] [--rounds 2] [--itl-ms 50] [--rss-requests 100000] [--busy-poll] [--references node,c|none] [--repeats 1]
 *   node dist/bench/harness.js --rss-only --rss-requests 1000000 --rss-stores memory,db,spill   (bounded memory)
 *   HARNESS_MOCK_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/p" node dist/bench/harness.js ...  (profile the mock)
 *
 * Timing error of a chunk = client arrival timestamp − the mock's timestamp just after writing it,
 * both on the machine-wide monotonic clock: loopback delivery plus the client's own delay. The same
 * streams are then read by two reference readers that do nothing but stamp reads (one in Node, one
 * in C with epoll, bench/referenceReader.c): their error is the floor the machine itself puts under
 * any client, and tokbench's p99 is printed as a ratio to theirs.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, PerformanceObserver, performance } from "node:perf_hooks";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { buildRequestSource } from "../src/benchmark/buildRequestSource.js";
import { runLoad } from "../src/load/runLoad.js";
import type { MockServerOptions } from "../src/mock/MockServer.js";
import { writeRunJson } from "../src/output/writeRunJson.js";
import { median } from "../src/stats/descriptive.js";
import { StatsAccumulator } from "../src/stats/StatsAccumulator.js";
import { RecordedRequestLog } from "../src/storage/RecordedRequestLog.js";
import { RunRecorder } from "../src/storage/RunRecorder.js";
import { RunStore } from "../src/storage/RunStore.js";
import { SpillFileRequestLog } from "../src/storage/SpillFileRequestLog.js";
import { collectMachineInfo } from "../src/system/machineInfo.js";
import { OpenAiTarget } from "../src/targets/openai/OpenAiTarget.js";
import type { Target } from "../src/targets/Target.js";
import { parseBenchArgs } from "./benchArgs.js";
import { buildCReferenceReader, readWithC } from "./cReferenceReader.js";
import { monotonicOffsetMs } from "./monotonicOffsetMs.js";
import { readWithNode } from "./nodeReferenceReader.js";
import { startUrlChild } from "./startUrlChild.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["streams", "rounds", "itl-ms", "max-tokens", "rss-requests", "rss-concurrency", "repeats"],
  options: {
    streams: { type: "string", default: "1,64,512,2000" },
    rounds: { type: "string", default: "2" },
    "itl-ms": { type: "string", default: "50" },
    "max-tokens": { type: "string", default: "32" },
    "rss-requests": { type: "string", default: "100000" },
    "rss-concurrency": { type: "string", default: "64" },
    "rss-only": { type: "boolean", default: false },
    // Where the records of the RSS run go: `memory` (a RequestTable, the library default), `db`
    // (the CLI's: each record stored in SQLite as it finishes, nothing kept), `spill` (the CLI's
    // --no-save), `db+memory` (the CLI before records left memory: stored and kept in a table). With
    // several, each runs in its own process, one after the other, and the last lines compare them.
    "rss-stores": { type: "string", default: "memory" },
    "rss-store": { type: "string", default: "memory" },
    "busy-poll": { type: "boolean", default: false },
    references: { type: "string", default: "node,c" },
    repeats: { type: "string", default: "1" },
  },
});
const references = new Set(
  String(values.references)
    .split(",")
    .filter((r) => r !== "" && r !== "none"),
);
const cReader: ReturnType<typeof buildCReferenceReader> =
  references.has("c") && !values["rss-only"]
    ? buildCReferenceReader()
    : { binary: null, reason: "not asked for" };
const MOCK = fileURLToPath(new URL("./harnessMockProcess.js", import.meta.url));

// The timed streams' script, the same for tokbench and the reference readers.
const rounds = Number(values.rounds);
const maxTokens = Number(values["max-tokens"]);
const TTFT_MS = 20;
const itlMs = Number(values["itl-ms"]);
/** Nominal duration of one request, ms. */
const requestMs = TTFT_MS + (maxTokens - 1) * itlMs;
const timedMock: MockServerOptions = { ttftMs: TTFT_MS, itlMs, timings: false };

async function startMock(
  options: MockServerOptions,
  record: boolean,
): Promise<{ url: string; child: ChildProcess }> {
  // HARNESS_MOCK_NODE_ARGS: extra node flags for the mock process, e.g. "--cpu-prof" to profile it.
  const nodeArgs = (process.env.HARNESS_MOCK_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");
  return startUrlChild([...nodeArgs, MOCK, JSON.stringify(options), record ? "record" : ""]);
}

function dump(child: ChildProcess): Promise<{ prompt: string; sent_ms: number[] }[]> {
  return new Promise((resolve) => {
    child.once("message", (m) => resolve(m as { prompt: string; sent_ms: number[] }[]));
    child.send("dump");
  });
}

const fmt = (v: number | null, digits = 3): string => (v === null ? "-" : v.toFixed(digits));

async function timingRun(streams: number): Promise<number | null> {
  const { url, child } = await startMock(timedMock, true);
  const inner = new OpenAiTarget({ baseUrl: url, model: "mock" });
  const offset = monotonicOffsetMs();
  const arrivals = new Map<string, number[]>();
  // Garbage-collection pauses of this process, to tell late chunks caused by GC from the rest.
  const gcPauses: [number, number][] = [];
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      gcPauses.push([e.startTime + offset, e.startTime + e.duration + offset]);
  });
  gcObserver.observe({ entryTypes: ["gc"] });
  const elu0 = performance.eventLoopUtilization();
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const target: Target = {
    kind: inner.kind,
    countTokens: (t) => inner.countTokens(t),
    close: () => inner.close(),
    async send(request, options) {
      const obs = await inner.send(request, options);
      arrivals.set(
        request.prompt,
        obs.chunks.map((c) => c.at_ms + offset),
      );
      return obs;
    },
  };
  const source = await buildRequestSource(
    {
      prompt_tokens: 32,
      prompt_file: null,
      max_tokens: maxTokens,
      force_output_length: true,
      unique_prefix: true,
      seed: 0,
    },
    target,
  );
  const outcome = await runLoad({
    target,
    requestAt: source.requestAt,
    prompt_tokens_exact: source.prompt_tokens_exact,
    // Open loop at the rate that keeps `streams` requests in flight (Little's law: rate = N / request
    // duration), capped at N: streams start and end spread out as in a real server's traffic, not
    // in lockstep waves that no client could send at once.
    load: {
      requests: streams * rounds,
      duration_s: null,
      concurrency: streams,
      // 1 % under N / duration: a request lasts a little longer than its nominal duration, and at
      // exactly N / duration the cap binds all the time, so the lag would measure waits for a free
      // slot (the load shape) instead of the dispatcher's own lateness. "peak" shows what was reached.
      rate: (0.99 * streams) / (requestMs / 1000),
      busy_poll: values["busy-poll"],
      arrival: "constant",
      warmup: 1,
      max_errors: null,
      seed: 0,
    },
  });
  const peak = peakConcurrency(outcome.requests.toArray());
  const elu = performance.eventLoopUtilization(elu0).utilization;
  loopDelay.disable();
  const cpu = process.cpuUsage(cpu0);
  const cpuShare = (cpu.user + cpu.system) / 1000 / (performance.now() - wall0);
  gcObserver.disconnect();
  gcPauses.sort((a, b) => a[0] - b[0]);
  const truth = await dump(child);
  await inner.close();
  const errors = chunkErrors(truth, arrivals);
  const { error, firstError, matched } = errors;
  let lateInGc = 0;
  const lateOutsideGc: [number, number][] = [];
  const overlapsGc = (from: number, to: number): boolean => {
    // Pauses are few (tens to hundreds): a linear scan is fine for a benchmark report.
    for (const [start, end] of gcPauses) if (start < to && end > from) return true;
    return false;
  };
  for (const [t, m] of errors.late) {
    if (overlapsGc(t, m)) lateInGc++;
    else lateOutsideGc.push([t, m]);
  }
  const late = errors.late.length;
  const e = error.stats();
  // HARNESS_LATE_DUMP=file: the late chunks that no GC pause explains (machine monotonic ms, to
  // line up with a --cpu-prof profile of this process).
  if (process.env.HARNESS_LATE_DUMP) {
    writeFileSync(
      `${process.env.HARNESS_LATE_DUMP}.${streams}.json`,
      JSON.stringify({ lateOutsideGc, gcPauses }),
    );
  }
  const lag = outcome.summary.dispatch_lag_ms;
  console.log(
    [
      String(streams).padStart(7),
      String(outcome.summary.requests.succeeded).padStart(9),
      String(e.count).padStart(9),
      fmt(e.p50).padStart(10),
      fmt(e.p99).padStart(10),
      fmt(e.max).padStart(10),
      fmt(lag.p50).padStart(10),
      fmt(lag.p99).padStart(10),
      fmt(lag.max).padStart(10),
      String(peak).padStart(7),
      `  (first chunks: err p50 ${fmt(firstError.stats().p50)} p99 ${fmt(firstError.stats().p99)}; ${matched} requests matched, ${outcome.summary.requests.failed} failed;` +
        ` ${late} chunks > 1 ms late, ${lateInGc} of them during a GC pause (${gcPauses.length} pauses, longest ${fmt(Math.max(0, ...gcPauses.map(([a, b]) => b - a)), 1)} ms);` +
        ` client event loop ${(elu * 100).toFixed(0)}% busy, delay p99 ${fmt(loopDelay.percentile(99) / 1e6, 1)} max ${fmt(loopDelay.max / 1e6, 1)} ms, process CPU ${(cpuShare * 100).toFixed(0)}% of a core)`,
    ].join(""),
  );
  return e.p99;
}

/** What each client's chunk timestamps are compared with: the mock's send times, per prompt. */
interface ChunkErrors {
  error: StatsAccumulator;
  firstError: StatsAccumulator;
  matched: number;
  /** Chunks more than 1 ms late: [true send time, measured arrival], machine monotonic ms. */
  late: [number, number][];
}

function chunkErrors(
  truth: { prompt: string; sent_ms: number[] }[],
  arrivals: Map<string, number[]>,
): ChunkErrors {
  const out: ChunkErrors = {
    error: new StatsAccumulator(),
    firstError: new StatsAccumulator(),
    matched: 0,
    late: [],
  };
  for (const { prompt, sent_ms } of truth) {
    const measured = arrivals.get(prompt);
    if (measured === undefined) continue;
    out.matched++;
    for (let j = 0; j < Math.min(measured.length, sent_ms.length); j++) {
      const m = measured[j];
      const t = sent_ms[j];
      if (m === undefined || t === undefined) continue;
      out.error.add(m - t);
      if (m - t > 1) out.late.push([t, m]);
      if (j === 0) out.firstError.add(m - t);
    }
  }
  return out;
}

/**
 * The same streams read by the reference readers, each against a fresh mock: the floor that this
 * machine puts under any client (C), and under any Node.js client (node), for tokbench's figures
 * to be read against.
 */
async function referenceRuns(streams: number, tokbenchP99: number | null): Promise<Map<string, number>> {
  const p99s = new Map<string, number>();
  const readers: [string, (url: string) => Promise<Map<string, number[]>>][] = [];
  const load = (url: string) => ({
    url,
    streams,
    requests: streams * rounds,
    requestMs,
    maxTokens,
    promptPrefix: "reference",
  });
  if (references.has("node")) readers.push(["node", (url) => readWithNode(load(url))]);
  if (references.has("c") && cReader.binary !== null) {
    const binary = cReader.binary;
    readers.push(["c", (url) => readWithC(binary, load(url))]);
  }
  for (const [name, read] of readers) {
    const { url, child } = await startMock(timedMock, true);
    const arrivals = await read(url);
    const truth = await dump(child);
    const { error, matched, late } = chunkErrors(truth, arrivals);
    const e = error.stats();
    const ratio = tokbenchP99 !== null && e.p99 !== null && e.p99 > 0 ? tokbenchP99 / e.p99 : null;
    if (e.p99 !== null) p99s.set(name, e.p99);
    console.log(
      [
        `${"".padStart(7)}  ${`${name} ref`.padEnd(8)}`,
        String(e.count).padStart(8),
        fmt(e.p50).padStart(10),
        fmt(e.p99).padStart(10),
        fmt(e.max).padStart(10),
        `  (${matched} requests matched; ${late.length} chunks > 1 ms late;` +
          ` tokbench's error p99 is ${ratio === null ? "-" : `${ratio.toFixed(2)}x`} this reader's)`,
      ].join(""),
    );
  }
  return p99s;
}

/** Most requests in flight at once, from the recorded send and end times. */
function peakConcurrency(requests: { sent_offset_ms: number; e2e_ms: number }[]): number {
  const events = requests.flatMap((r) => [
    [r.sent_offset_ms, 1],
    [r.sent_offset_ms + r.e2e_ms, -1],
  ]);
  events.sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number));
  let now = 0;
  let peak = 0;
  for (const [, d] of events) {
    now += d as number;
    peak = Math.max(peak, now);
  }
  return peak;
}

function peakRssBytes(): number {
  // VmHWM is the kernel's own high-water mark of resident memory: no sample can miss the peak.
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m?.[1]) return Number(m[1]) * 1024;
  } catch {}
  return process.memoryUsage().rss;
}

async function rssRun(): Promise<void> {
  const requests = Number(values["rss-requests"]);
  const concurrency = Number(values["rss-concurrency"]);
  const { url, child } = await startMock({ ttftMs: 1, itlMs: 0.2, timings: true }, false);
  const target = new OpenAiTarget({ baseUrl: url, model: "mock" });
  const source = await buildRequestSource(
    {
      prompt_tokens: 32,
      prompt_file: null,
      max_tokens: 16,
      force_output_length: true,
      unique_prefix: true,
      seed: 0,
    },
    target,
  );
  const mode = String(values["rss-store"]);
  const dir = mkdtempSync(join(tmpdir(), "tokbench-rss-"));
  const store = mode === "db" || mode === "db+memory" ? RunStore.open(join(dir, "rss.sqlite")) : null;
  const runId = "rss-run";
  // Storage as the CLI does it: a RunRecorder commits each record as it finishes.
  const recorder = store === null ? null : new RunRecorder(store);
  recorder?.beginRun({
    run_id: runId,
    started_at: new Date().toISOString(),
    config: { target: target.kind, model: "mock" },
    machine: await collectMachineInfo(),
    tool_version: "bench",
  });
  const requestLog =
    mode === "db"
      ? new RecordedRequestLog(store as RunStore, recorder as RunRecorder, runId)
      : mode === "spill"
        ? new SpillFileRequestLog(dir)
        : undefined;
  const before = process.memoryUsage().rss;
  const started = performance.now();
  const outcome = await runLoad({
    ...(requestLog === undefined ? {} : { requestLog }),
    ...(mode === "db+memory" ? { hooks: { onRequest: (record) => recorder?.appendRequest(record) } } : {}),
    target,
    requestAt: source.requestAt,
    prompt_tokens_exact: source.prompt_tokens_exact,
    load: {
      requests,
      duration_s: null,
      concurrency,
      rate: null,
      arrival: "constant",
      warmup: 1,
      max_errors: null,
      seed: 0,
    },
  });
  const seconds = (performance.now() - started) / 1000;
  await target.close();
  child.kill();
  const mb = (b: number): string => (b / 2 ** 20).toFixed(1);
  const peakRun = peakRssBytes();
  // What `bench --json` then does: the whole result with every record, streamed from where they are.
  let jsonBytes = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      jsonBytes += chunk.length;
      callback();
    },
  });
  const jsonStart = performance.now();
  await writeRunJson(
    {
      schema_version: 1,
      tool: { name: "tokbench", version: "bench" },
      run_id: runId,
      status: outcome.status,
      status_reason: null,
      started_at: "",
      ended_at: "",
      config: {},
      machine: await collectMachineInfo(),
      summary: outcome.summary,
      tests: [],
      resources: null,
    },
    outcome.requests,
    sink,
  );
  const jsonSeconds = (performance.now() - jsonStart) / 1000;
  store?.close();
  if (requestLog instanceof SpillFileRequestLog) requestLog.close();
  rmSync(dir, { recursive: true, force: true });
  const rate = outcome.requests.length / seconds;
  console.log(
    `[${mode}] ${outcome.requests.length} requests (${outcome.summary.requests.failed} failed) at concurrency ${concurrency} in ${seconds.toFixed(1)} s ` +
      `(${rate.toFixed(0)} req/s): RSS before ${mb(before)} MB, peak during the run ${mb(peakRun)} MB, ` +
      `peak after streaming the --json result (${(jsonBytes / 2 ** 20).toFixed(0)} MiB in ${jsonSeconds.toFixed(1)} s) ${mb(peakRssBytes())} MB ` +
      `(target <= 200 MB); ${outcome.summary.total_output_tokens} output tokens recorded`,
  );
  console.log(
    `RSS-RESULT ${JSON.stringify({ mode, rate, peak_run_mb: peakRun / 2 ** 20, peak_mb: peakRssBytes() / 2 ** 20 })}`,
  );
}

if (
  values["rss-only"] &&
  String(values["rss-stores"]) !== "memory" &&
  String(values["rss-store"]) === "memory" &&
  !process.argv.includes("--rss-store")
) {
  await rssRuns();
} else if (values["rss-only"]) {
  await rssRun();
} else {
  console.log(
    `harness timing error and dispatch lag vs the mock (ttft ${TTFT_MS} ms, itl ${itlMs} ms, ${maxTokens} tokens)`,
  );
  console.log(
    "streams succeeded   chunks  err_p50ms  err_p99ms  err_maxms  lag_p50ms  lag_p99ms  lag_maxms   peak",
  );
  if (references.has("c") && cReader.binary === null) {
    console.log(`(C reference reader skipped: ${cReader.reason})`);
  }
  const repeats = Number(values.repeats);
  for (const s of String(values.streams).split(",").map(Number)) {
    // Repeated and interleaved (tokbench, then each reader), with the ratios taken within each
    // repeat: this VM's speed drifts between minutes more than the clients differ.
    const rows: { tokbench: number; refs: Map<string, number> }[] = [];
    for (let r = 0; r < repeats; r++) {
      const p99 = await timingRun(s);
      const refs = await referenceRuns(s, p99);
      if (p99 !== null) rows.push({ tokbench: p99, refs });
    }
    if (repeats > 1 && rows.length > 0) {
      const parts = [
        `median of ${rows.length}: tokbench error p99 ${fmt(median(rows.map((x) => x.tokbench)))} ms`,
      ];
      for (const name of references) {
        const pairs = rows.filter((x) => x.refs.has(name));
        if (pairs.length === 0) continue;
        const floor = median(pairs.map((x) => x.refs.get(name) as number));
        const ratio = median(pairs.map((x) => x.tokbench / (x.refs.get(name) as number)));
        parts.push(`${name} ref ${fmt(floor)} ms (tokbench/${name} ${ratio.toFixed(2)}x)`);
      }
      console.log(`${String(s).padStart(7)}  ${parts.join("; ")}`);
    }
  }
  if (Number(values["rss-requests"]) > 0) {
    // In a fresh process: the kernel's high-water mark would otherwise include the timing runs.
    await rssRuns();
  }
}

/** One RSS run per `--rss-stores` mode, each in a fresh process (the kernel's high-water mark is per process). */
async function rssRuns(): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const results: { mode: string; rate: number; peak_mb: number }[] = [];
  for (const mode of String(values["rss-stores"]).split(",")) {
    const args = [self, "--rss-only", "--rss-requests", String(values["rss-requests"]), "--rss-store", mode];
    args.push("--rss-concurrency", String(values["rss-concurrency"]));
    const rss = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    rss.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      process.stdout.write(b);
    });
    await new Promise((resolve) => rss.on("exit", resolve));
    const line = out.split("\n").find((l) => l.startsWith("RSS-RESULT "));
    if (line) results.push(JSON.parse(line.slice("RSS-RESULT ".length)));
  }
  const reference = results.find((r) => r.mode === "db+memory") ?? results.find((r) => r.mode === "memory");
  if (reference !== undefined && results.length > 1) {
    for (const r of results.filter((x) => x !== reference)) {
      console.log(
        `${r.mode} vs ${reference.mode}: request rate ${(r.rate / reference.rate).toFixed(3)}x, peak RSS ${r.peak_mb.toFixed(0)} vs ${reference.peak_mb.toFixed(0)} MB`,
      );
    }
  }
}
