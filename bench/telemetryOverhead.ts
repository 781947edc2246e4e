/**
 * What exporting metrics costs a run (docs/metrics.md, "Exported metrics"):
 *
 * 1. per request, in one process: the same closed-loop load against the mock (in its own process)
 *    with no telemetry, with the OTLP export (a receiver in its own process, exporting every second),
 *    with the Prometheus endpoint (scraped every second by another process), and with both;
 *    rounds interleaved, medians reported: CPU time of the tokbench process per request, dispatch
 *    lag, TTFT. The differences to "off" are the cost.
 * 2. the recorder alone: RequestRecorder.record per request with N chunk gaps, against a reader.
 * 3. one Prometheus scrape: CPU time the tokbench process spends answering it, after 1,000 requests.
 * 4. start-up: `tokbench --help` and a one-request `bench` (wall time of the process), without
 *    telemetry flags and with each; `--reference-cli PATH` adds another build's CLI (main's) as the
 *    "before".
 *
 *   node dist/bench/telemetryOverhead.js [--requests 2000] [--concurrency 16] [--max-tokens 64] [--rounds 3] [--starts 10] [--reference-cli /path/to/dist/src/cli/main.js]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { buildRequestSource } from "../src/benchmark/buildRequestSource.js";
import { type LoadHooks, runLoad } from "../src/load/runLoad.js";
import type { MockServerOptions } from "../src/mock/MockServer.js";
import type { MachineInfo } from "../src/results/MachineInfo.js";
import type { RequestRecord } from "../src/results/RequestRecord.js";
import { median } from "../src/stats/descriptive.js";
import { OpenAiTarget } from "../src/targets/openai/OpenAiTarget.js";
import { TIME_PER_OUTPUT_CHUNK } from "../src/telemetry/genAiInstruments.js";
import { ManyValueHistogram } from "../src/telemetry/ManyValueHistogram.js";
import { RequestRecorder } from "../src/telemetry/RequestRecorder.js";
import { startRunTelemetry } from "../src/telemetry/RunTelemetry.js";
import type { TelemetryOptions } from "../src/telemetry/TelemetryOptions.js";
import { parseBenchArgs } from "./benchArgs.js";
import { startUrlChild } from "./startUrlChild.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["requests", "concurrency", "max-tokens", "rounds", "starts"],
  options: {
    requests: { type: "string", default: "2000" },
    concurrency: { type: "string", default: "16" },
    "max-tokens": { type: "string", default: "64" },
    rounds: { type: "string", default: "3" },
    starts: { type: "string", default: "10" },
    "reference-cli": { type: "string" },
  },
});
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const MAX_TOKENS = Number(values["max-tokens"]);
const ROUNDS = Number(values.rounds);
const STARTS = Number(values.starts);
const MOCK = fileURLToPath(new URL("./harnessMockProcess.js", import.meta.url));
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

class ScrapeOnlyReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** An OTLP/HTTP receiver in its own process: answers 200 to every export, counts them. */
const RECEIVER = `
import http from "node:http";
const server = http.createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(200).end()); });
server.listen(0, "127.0.0.1", () => console.log("http://127.0.0.1:" + server.address().port));
`;

/**
 * A scraper in its own process, started once (a process starting during a round would take the CPU
 * from the run): GETs the URL it was last sent over IPC every second, as Prometheus would.
 */
const SCRAPER = `
let url = null;
process.on("message", (m) => { url = m; });
console.log("ready");
setInterval(() => { if (url) fetch(url).then((r) => r.text()).catch(() => {}); }, 1000);
`;

type Mode = "off" | "otlp" | "prometheus" | "both";

interface RoundResult {
  cpuUsPerRequest: number;
  lagP50: number;
  lagP99: number;
  ttftMean: number;
  succeeded: number;
}

async function loadRound(
  mockUrl: string,
  receiverUrl: string,
  scraper: ChildProcess,
  mode: Mode,
): Promise<RoundResult> {
  const target = new OpenAiTarget({ baseUrl: mockUrl, model: "mock" });
  const source = await buildRequestSource(
    {
      prompt_tokens: 32,
      prompt_file: null,
      max_tokens: MAX_TOKENS,
      force_output_length: true,
      unique_prefix: true,
      seed: 0,
    },
    target,
  );
  const options: TelemetryOptions = {
    otlp:
      mode === "otlp" || mode === "both"
        ? {
            url: `${receiverUrl}/v1/metrics`,
            source: "bench",
            protocol: "http/protobuf",
            interval_ms: 1000,
            timeout_ms: 1000,
            secrets: [],
          }
        : null,
    prometheus: mode === "prometheus" || mode === "both" ? { host: "127.0.0.1", port: 0 } : null,
  };
  const telemetry = mode === "off" ? null : await startRunTelemetry(options);
  if (telemetry?.prometheusUrl) scraper.send(telemetry.prometheusUrl);
  telemetry?.onRunStart({
    run_id: `bench-${mode}`,
    started_at: new Date().toISOString(),
    config: { target: "openai-chat", model: "mock", url: mockUrl },
    machine: {} as MachineInfo,
  });
  const hooks: LoadHooks =
    telemetry === null
      ? {}
      : {
          onRequest: (record, metrics) => telemetry.onRequest(record, metrics),
          onInFlight: (n) => telemetry.onInFlight(n),
        };
  const cpu = process.cpuUsage();
  const outcome = await runLoad({
    target,
    requestAt: source.requestAt,
    prompt_tokens_exact: source.prompt_tokens_exact,
    hooks,
    load: {
      requests: REQUESTS,
      duration_s: null,
      concurrency: CONCURRENCY,
      rate: null,
      arrival: "constant",
      warmup: 1,
      max_errors: null,
      seed: 0,
    },
  });
  const used = process.cpuUsage(cpu);
  scraper.send("");
  await telemetry?.finish();
  await target.close();
  const lag = outcome.summary.dispatch_lag_ms;
  return {
    cpuUsPerRequest: (used.user + used.system) / outcome.requests.length,
    lagP50: lag.p50 ?? Number.NaN,
    lagP99: lag.p99 ?? Number.NaN,
    ttftMean: outcome.summary.ttft_ms.mean ?? Number.NaN,
    succeeded: outcome.summary.requests.succeeded,
  };
}

async function perRequest(): Promise<void> {
  const mockOptions: MockServerOptions = { ttftMs: 1, itlMs: 0.5 };
  const mock = await startUrlChild([MOCK, JSON.stringify(mockOptions), ""]);
  const receiver = await startUrlChild(["--input-type=module", "-e", RECEIVER]);
  const scraper = await startUrlChild(["--input-type=module", "-e", SCRAPER]);
  const modes: Mode[] = ["off", "otlp", "prometheus", "both"];
  const results = new Map<Mode, RoundResult[]>(modes.map((m) => [m, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      results.get(mode)?.push(await loadRound(mock.url, receiver.url, scraper.child, mode));
    }
  }
  mock.child.kill();
  receiver.child.kill();
  scraper.child.kill();
  console.log(
    `\n1. per request: ${REQUESTS} requests x ${MAX_TOKENS} tokens, concurrency ${CONCURRENCY}, mock ttft 1 ms / itl 0.5 ms in its own process; medians of ${ROUNDS} interleaved rounds`,
  );
  console.log("mode         cpu_us/req  delta_us  lag_p50ms  lag_p99ms  ttft_mean_ms  succeeded");
  const off = median((results.get("off") ?? []).map((r) => r.cpuUsPerRequest));
  for (const mode of modes) {
    const rs = results.get(mode) ?? [];
    const cpu = median(rs.map((r) => r.cpuUsPerRequest));
    console.log(
      `${mode.padEnd(12)} ${cpu.toFixed(1).padStart(10)} ${(cpu - off).toFixed(1).padStart(9)} ${median(
        rs.map((r) => r.lagP50),
      )
        .toFixed(3)
        .padStart(10)} ${median(rs.map((r) => r.lagP99))
        .toFixed(3)
        .padStart(10)} ${median(rs.map((r) => r.ttftMean))
        .toFixed(3)
        .padStart(13)} ${median(rs.map((r) => r.succeeded))
        .toFixed(0)
        .padStart(10)}`,
    );
  }
}

/** A successful request of `gaps + 1` one-token chunks, with its per-chunk samples. */
function syntheticRecord(gaps: number): { record: RequestRecord; itl: []; chunk_gaps_ms: number[] } {
  const record: RequestRecord = {
    index: 0,
    planned_offset_ms: 0,
    sent_offset_ms: 0,
    dispatch_lag_ms: 0,
    status: 200,
    ttft_ms: 20.5,
    e2e_ms: 100.25,
    decode_ms: 80,
    prompt_tokens: 32,
    output_tokens: gaps + 1,
    token_source: "usage",
    chunks: gaps + 1,
    decode_tps: 100,
    decode_tps_source: "client",
    tpot_ms: 10,
    prefill_tps: 1000,
    flags: [],
    error: null,
    server_timings: null,
  };
  return { record, itl: [], chunk_gaps_ms: Array.from({ length: gaps }, (_, i) => 9 + (i % 7) * 0.5) };
}

/** RequestRecorder.record alone, per request, with `gaps` chunk gaps (one record call each). */
function recorderCost(gaps: number, n: number): number {
  // A reader must be registered for the SDK to aggregate at all; this one only collects when asked.
  const recorderProvider = new MeterProvider({ readers: [new ScrapeOnlyReader()] });
  const recorder = new RequestRecorder(
    recorderProvider.getMeter("bench"),
    new ManyValueHistogram(TIME_PER_OUTPUT_CHUNK, { name: "bench", version: "0" }),
  );
  const metrics = syntheticRecord(gaps);
  const record = metrics.record;
  for (let i = 0; i < 1000; i++) recorder.record(record, metrics);
  const start = performance.now();
  for (let i = 0; i < n; i++) recorder.record(record, metrics);
  return ((performance.now() - start) * 1000) / n;
}

/**
 * CPU time of this process per scrape of its Prometheus endpoint (collect, serialise, send), the
 * scrapes made by another process; after 1,000 requests of `MAX_TOKENS` tokens, one of them failed.
 */
async function scrapeCost(scrapes: number): Promise<void> {
  const telemetry = await startRunTelemetry({ otlp: null, prometheus: { host: "127.0.0.1", port: 0 } });
  telemetry.onRunStart({
    run_id: "bench-scrape",
    started_at: new Date().toISOString(),
    config: { target: "openai-chat", model: "mock", url: "http://127.0.0.1:8080/v1" },
    machine: {} as MachineInfo,
  });
  const record = syntheticRecord(MAX_TOKENS - 1);
  for (let i = 0; i < 1000; i++) telemetry.onRequest(record.record, record);
  const failed = {
    ...record.record,
    error: { code: "REQUEST_HTTP_ERROR" as const, message: "HTTP 500", status: 500 },
  };
  telemetry.onRequest(failed, { ...record, record: failed });
  const warm = 20;
  const script = `const u = process.argv[1]; let bytes = 0;
for (let i = 0; i < ${warm + scrapes}; i++) { if (i === ${warm}) process.send("go"); bytes = (await (await fetch(u)).text()).length; }
process.send(bytes);`;
  const child = spawn(
    process.execPath,
    ["--input-type=module", "-e", script, telemetry.prometheusUrl as string],
    {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  let cpu = process.cpuUsage();
  const bytes = await new Promise<number>((resolve) => {
    child.on("message", (m) => {
      if (m === "go") cpu = process.cpuUsage();
      else resolve(m as number);
    });
  });
  const used = process.cpuUsage(cpu);
  child.kill();
  await telemetry.finish();
  console.log(
    `\n3. one Prometheus scrape (${(bytes / 1024).toFixed(1)} KiB of text): ${((used.user + used.system) / scrapes / 1000).toFixed(2)} ms of CPU (mean of ${scrapes})`,
  );
}

/** Wall time of a process from spawn to exit, ms. */
function timeProcess(args: string[]): Promise<{ ms: number; code: number | null }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: "ignore" });
    child.on("close", (code) => resolve({ ms: performance.now() - start, code }));
  });
}

async function startup(): Promise<void> {
  const mock = await startUrlChild([MOCK, JSON.stringify({ ttftMs: 1, itlMs: 0.5 }), ""]);
  const receiver = await startUrlChild(["--input-type=module", "-e", RECEIVER]);
  const bench = (cli: string, ...extra: string[]): string[] => [
    cli,
    "bench",
    "--url",
    mock.url,
    "--model",
    "m",
    "-n",
    "1",
    "--warmup",
    "0",
    "--max-tokens",
    "1",
    "--no-save",
    "--no-progress",
    ...extra,
  ];
  const cases: [string, string[]][] = [
    ["--help", [CLI, "--help"]],
    ["bench, no telemetry", bench(CLI)],
    ["bench --otlp-endpoint", bench(CLI, "--otlp-endpoint", receiver.url)],
    ["bench --prometheus-port 0", bench(CLI, "--prometheus-port", "0")],
  ];
  const reference = values["reference-cli"];
  if (reference !== undefined) {
    cases.unshift(["reference --help", [reference, "--help"]], ["reference bench", bench(reference)]);
  }
  const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let i = 0; i < STARTS; i++) {
    for (const [name, args] of i % 2 === 0 ? cases : [...cases].reverse()) {
      const { ms, code } = await timeProcess(args);
      if (code !== 0) throw new Error(`${name} exited with ${code}`);
      times.get(name)?.push(ms);
    }
  }
  mock.child.kill();
  receiver.child.kill();
  console.log(
    `\n4. start-up: wall time of the process, median of ${STARTS} interleaved runs (one request in the bench runs)`,
  );
  for (const [name] of cases) {
    const ts = times.get(name) ?? [];
    console.log(
      `${name.padEnd(28)} ${median(ts).toFixed(0).padStart(6)} ms  (min ${Math.min(...ts).toFixed(0)})`,
    );
  }
}

await perRequest();
console.log("\n2. RequestRecorder.record alone (one request's instruments), microseconds per request");
for (const gaps of [0, 15, 63, 255]) {
  console.log(`${String(gaps).padStart(4)} chunk gaps: ${recorderCost(gaps, 20_000).toFixed(2)} us`);
}
await scrapeCost(200);
if (STARTS > 0) await startup();
