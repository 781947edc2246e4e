import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MockServer } from "../../src/mock/MockServer.js";
import type { RequestRecord } from "../../src/results/RequestRecord.js";
import type { RunResult } from "../../src/results/RunResult.js";
import {
  INSTRUMENTS,
  OPERATION_DURATION,
  REQUESTS,
  REQUESTS_IN_FLIGHT,
  TIME_PER_OUTPUT_CHUNK,
  TIME_PER_OUTPUT_TOKEN,
  TIME_TO_FIRST_CHUNK,
  TIME_TO_FIRST_TOKEN,
  TOKEN_USAGE,
} from "../../src/telemetry/genAiInstruments.js";
import { benchArgs, runCli } from "../cli/runCli.js";
import {
  attributesOf,
  type JsonExport,
  type JsonHistogramPoint,
  type JsonMetric,
  metricsByName,
  type OtlpReceiver,
  protoMetricSummaries,
  startOtlpReceiver,
} from "./otlpReceiver.js";

/** The mock's script: the ground truth every exported time is checked against. */
const TTFT_MS = 40;
const ITL_MS = 20;
const MAX_TOKENS = 6;
const REQUESTS_N = 16;

type JsonRecord = Omit<RequestRecord, "flags"> & { flags: string[] };

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);

function histogramPoints(metric: JsonMetric | undefined, name: string): JsonHistogramPoint[] {
  assert.ok(metric?.histogram, `${name} is exported as a histogram`);
  return metric.histogram.dataPoints;
}

describe("--otlp-endpoint: the run's metrics over OTLP/HTTP", () => {
  let mock: MockServer;
  let url: string;
  let port: number;
  let receiver: OtlpReceiver;
  before(async () => {
    // One request in four or so fails with HTTP 500 (drawn from the seed): failures carry error.type.
    mock = new MockServer({ ttftMs: TTFT_MS, itlMs: ITL_MS, errorRate: 0.25, seed: 7 });
    url = await mock.start();
    port = Number(new URL(url).port);
    receiver = await startOtlpReceiver("accept");
  });
  after(async () => {
    await receiver.close();
    await mock.close();
  });

  it("exports every GenAI instrument with the conventions' names, units, buckets and attributes, and tokbench's own values (OTLP/JSON)", async () => {
    const run = await runCli(
      benchArgs(
        url,
        ...["-n", String(REQUESTS_N), "-c", "4", "--max-tokens", String(MAX_TOKENS), "--prompt-tokens", "16"],
        ...["--no-save", "--json", "--otlp-endpoint", receiver.url],
      ),
      { env: { OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: "http/json" } },
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as Omit<RunResult, "requests"> & { requests: JsonRecord[] };
    const ok = result.requests.filter((r) => r.error === null);
    const failed = result.requests.filter((r) => r.error !== null);
    assert.ok(
      ok.length >= 4 && failed.length >= 1,
      `both outcomes happen (${ok.length} ok, ${failed.length} failed)`,
    );

    // A run shorter than the export interval is exported once, at its end, to /v1/metrics.
    assert.equal(receiver.received.length, 1, "one export");
    const [request] = receiver.received;
    assert.equal(request?.path, "/v1/metrics");
    assert.match(request?.contentType ?? "", /application\/json/);
    assert.match(run.stderr, /metrics exported to http:\/\/127\.0\.0\.1:\d+\/v1\/metrics \(1 export\)/);
    const payload = JSON.parse(request?.body.toString("utf8") ?? "") as JsonExport;

    const resource = attributesOf(payload.resourceMetrics[0]?.resource.attributes ?? []);
    assert.equal(resource["service.name"], "tokbench");
    assert.equal(resource["service.instance.id"], result.run_id, "the run's id names the instance");

    const metrics = metricsByName(payload);
    for (const def of INSTRUMENTS) {
      const metric = metrics.get(def.name);
      assert.ok(metric, `${def.name} is exported`);
      assert.equal(metric.unit, def.unit, `${def.name} unit`);
    }

    const base = {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "m",
      "server.address": "127.0.0.1",
      "server.port": port,
    };

    // gen_ai.client.operation.duration: every recorded request; failures apart, with error.type.
    const duration = histogramPoints(metrics.get(OPERATION_DURATION.name), OPERATION_DURATION.name);
    assert.equal(duration.length, 2);
    const durationOk = duration.find((p) => !("error.type" in attributesOf(p.attributes)));
    const durationFailed = duration.find((p) => "error.type" in attributesOf(p.attributes));
    assert.deepEqual(attributesOf(durationOk?.attributes ?? []), base);
    assert.deepEqual(attributesOf(durationFailed?.attributes ?? []), {
      ...base,
      "error.type": "REQUEST_HTTP_ERROR",
    });
    assert.equal(Number(durationOk?.count), ok.length);
    assert.equal(Number(durationFailed?.count), failed.length);
    assertClose(durationOk?.sum, sum(ok.map((r) => r.e2e_ms / 1000)), "duration sum = tokbench's e2e");
    assert.deepEqual(durationOk?.explicitBounds, [...(OPERATION_DURATION.buckets ?? [])]);

    // gen_ai.client.token.usage: input = the prompt tokens, output = exactly --max-tokens each (the mock's script).
    const usage = histogramPoints(metrics.get(TOKEN_USAGE.name), TOKEN_USAGE.name);
    const byType = (type: string) =>
      usage.find((p) => attributesOf(p.attributes)["gen_ai.token.type"] === type);
    assert.deepEqual(attributesOf(byType("output")?.attributes ?? []), {
      ...base,
      "gen_ai.token.type": "output",
    });
    assert.equal(Number(byType("output")?.count), ok.length);
    assert.equal(byType("output")?.sum, ok.length * MAX_TOKENS);
    assert.equal(byType("input")?.sum, sum(ok.map((r) => r.prompt_tokens ?? 0)));
    assert.deepEqual(byType("input")?.explicitBounds, [...(TOKEN_USAGE.buckets ?? [])]);

    // TTFT, as gen_ai.server.time_to_first_token and gen_ai.client.operation.time_to_first_chunk.
    for (const def of [TIME_TO_FIRST_TOKEN, TIME_TO_FIRST_CHUNK]) {
      const [point, ...rest] = histogramPoints(metrics.get(def.name), def.name);
      assert.equal(rest.length, 0, `${def.name}: successful requests only, one series`);
      assert.deepEqual(attributesOf(point?.attributes ?? []), base);
      assert.equal(Number(point?.count), ok.length);
      assertClose(
        point?.sum,
        sum(ok.map((r) => (r.ttft_ms as number) / 1000)),
        `${def.name} sum = tokbench's TTFT`,
      );
      // The mock sends the first token TTFT_MS after the request reached it: nothing arrives sooner.
      assert.ok((point?.min ?? 0) >= TTFT_MS / 1000, `${def.name} min ${point?.min} >= the scripted TTFT`);
      assert.ok(
        (point?.max ?? 1) < TTFT_MS / 1000 + 0.06,
        `${def.name} max ${point?.max} near the scripted TTFT`,
      );
      assert.deepEqual(point?.explicitBounds, [...(def.buckets ?? [])]);
    }

    // TPOT: the mock sends token j at TTFT + j x ITL, so the time per output token is ITL.
    const [tpot] = histogramPoints(metrics.get(TIME_PER_OUTPUT_TOKEN.name), TIME_PER_OUTPUT_TOKEN.name);
    assert.equal(Number(tpot?.count), ok.length);
    assertClose(tpot?.sum, sum(ok.map((r) => (r.tpot_ms as number) / 1000)), "TPOT sum = tokbench's TPOT");
    const tpotMean = (tpot?.sum ?? 0) / ok.length;
    assert.ok(
      Math.abs(tpotMean - ITL_MS / 1000) < 0.004,
      `mean TPOT ${tpotMean} s is the scripted ${ITL_MS} ms`,
    );
    // The conventions' buckets, each holding exactly the requests whose TPOT falls in it (with
    // ITL = 20 ms that is (0.01, 0.025] on a quiet machine; a loaded one can push a few above, so
    // the expected counts come from tokbench's own records, not from the script).
    const bounds = [...(TIME_PER_OUTPUT_TOKEN.buckets ?? [])];
    assert.deepEqual(tpot?.explicitBounds, bounds);
    const expected = new Array<number>(bounds.length + 1).fill(0);
    for (const r of ok) {
      const seconds = (r.tpot_ms as number) / 1000;
      const index = bounds.findIndex((upper) => seconds <= upper);
      expected[index === -1 ? bounds.length : index] =
        (expected[index === -1 ? bounds.length : index] ?? 0) + 1;
    }
    assert.deepEqual(tpot?.bucketCounts.map(Number), expected, `bucket counts ${tpot?.bucketCounts}`);
    assert.ok((expected[1] ?? 0) >= ok.length / 2, `most TPOTs near the scripted 20 ms: ${expected}`);

    // One sample per gap between token-bearing chunks; the gaps of a request add up to its decode time.
    const [perChunk] = histogramPoints(metrics.get(TIME_PER_OUTPUT_CHUNK.name), TIME_PER_OUTPUT_CHUNK.name);
    assert.equal(Number(perChunk?.count), ok.length * (MAX_TOKENS - 1));
    assertClose(
      perChunk?.sum,
      sum(ok.map((r) => (r.decode_ms as number) / 1000)),
      "chunk gaps add up to decode_ms",
    );

    // tokbench.requests by status; in flight back to 0 once the run is over.
    const requests = metrics.get(REQUESTS.name)?.sum;
    assert.equal(requests?.isMonotonic, true);
    const status = (s: string) =>
      Number(
        requests?.dataPoints.find((p) => attributesOf(p.attributes)["tokbench.request.status"] === s)?.asInt,
      );
    assert.equal(status("succeeded"), ok.length);
    assert.equal(status("failed"), failed.length);
    const inFlight = metrics.get(REQUESTS_IN_FLIGHT.name)?.sum;
    assert.equal(inFlight?.isMonotonic, false);
    assert.equal(Number(inFlight?.dataPoints[0]?.asInt), 0);
  });

  it("sends OTLP/protobuf by default, to OTEL_EXPORTER_OTLP_ENDPOINT + /v1/metrics, with OTEL_EXPORTER_OTLP_HEADERS", async () => {
    const start = receiver.received.length;
    const run = await runCli(
      benchArgs(
        url,
        "-n",
        "6",
        "-c",
        "2",
        "--max-tokens",
        "4",
        "--prompt-tokens",
        "16",
        "--no-save",
        "--json",
      ),
      {
        env: {
          OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.url}/otlp`,
          OTEL_EXPORTER_OTLP_HEADERS: "x-team=bench,authorization=Bearer%20sk-otlp-secret",
        },
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as RunResult;
    const request = receiver.received[start];
    assert.equal(receiver.received.length, start + 1);
    assert.equal(request?.path, "/otlp/v1/metrics");
    assert.equal(request?.contentType, "application/x-protobuf");
    assert.equal(request?.headers["x-team"], "bench");
    assert.equal(request?.headers.authorization, "Bearer sk-otlp-secret");
    assert.ok(!run.stderr.includes("sk-otlp-secret") && !run.stdout.includes("sk-otlp-secret"));
    const metrics = protoMetricSummaries(request?.body ?? Buffer.alloc(0));
    for (const def of INSTRUMENTS) assert.equal(metrics.get(def.name)?.unit, def.unit, def.name);
    assert.equal(metrics.get(TIME_TO_FIRST_TOKEN.name)?.histogramCount, result.summary.requests.succeeded);
    assert.equal(metrics.get(OPERATION_DURATION.name)?.histogramCount, result.summary.requests.total);
  });
});

function assertClose(actual: number | undefined, expected: number, what: string): void {
  assert.ok(
    actual !== undefined && Math.abs(actual - expected) <= 1e-9 * Math.max(1, expected),
    `${what}: ${actual} vs ${expected}`,
  );
}
