import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { MockServer } from "../../src/mock/MockServer.js";
import type { RunResult } from "../../src/results/RunResult.js";
import { TIME_TO_FIRST_TOKEN } from "../../src/telemetry/genAiInstruments.js";
import { benchArgs, runCli } from "../cli/runCli.js";
import { type PromFamily, parsePrometheusText, total } from "./prometheusText.js";

const CONCURRENCY = 4;
const REQUESTS_N = 24;

/** Scrapes `url`; null when nothing listens there any more. */
async function scrape(url: string): Promise<{ contentType: string; text: string } | null> {
  try {
    const response = await fetch(url);
    return { contentType: response.headers.get("content-type") ?? "", text: await response.text() };
  } catch {
    return null;
  }
}

/** Checks a histogram family: cumulative buckets per series, `+Inf` equal to `_count`. */
function checkHistogram(family: PromFamily | undefined, name: string): void {
  assert.equal(family?.type, "histogram", `${name} is a histogram`);
  const series = new Map<string, number[]>();
  for (const sample of family?.samples ?? []) {
    if (!sample.name.endsWith("_bucket")) continue;
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), sample.value]);
    if (le === "+Inf") {
      const count: number | undefined = family?.samples.find(
        (other) => other.name === `${name}_count` && JSON.stringify(other.labels) === key,
      )?.value;
      assert.equal(sample.value, count, `${name}: +Inf bucket = _count of the same series`);
    }
  }
  for (const counts of series.values()) {
    for (let i = 1; i < counts.length; i++) assert.ok((counts[i] as number) >= (counts[i - 1] as number));
  }
}

describe("--prometheus-port: the live run in Prometheus text format", () => {
  let mock: MockServer;
  let url: string;
  before(async () => {
    mock = new MockServer({ ttftMs: 30, itlMs: 20, errorRate: 0.2, seed: 11 });
    url = await mock.start();
  });
  after(async () => {
    await mock.close();
  });

  it("serves the run's metrics while it runs, with Prometheus names, and stops serving at its end", async () => {
    let endpoint: string | null = null;
    const scrapes: { text: string; contentType: string }[] = [];
    let exited = false;
    const run = runCli(
      benchArgs(
        url,
        ...[
          "-n",
          String(REQUESTS_N),
          "-c",
          String(CONCURRENCY),
          "--max-tokens",
          "12",
          "--prompt-tokens",
          "16",
        ],
        ...["--no-save", "--json", "--prometheus-port", "0"],
      ),
      {
        onStart(child) {
          let stderr = "";
          child.stderr?.on("data", (b: Buffer) => {
            stderr += b.toString();
            endpoint ??=
              /Prometheus metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr)?.[1] ?? null;
          });
        },
      },
    );
    void run.then(() => {
      exited = true;
    });
    // Scrape as Prometheus would, every 100 ms, while the run lasts.
    while (!exited) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      if (endpoint === null || exited) continue;
      const got = await scrape(endpoint);
      if (got !== null) scrapes.push(got);
    }
    const done = await run;
    assert.equal(done.code, 0, done.stderr);
    const result = JSON.parse(done.stdout) as RunResult;
    assert.ok(endpoint !== null, "the endpoint is announced on stderr");
    assert.equal(await scrape(endpoint), null, "nothing listens once the run is over");

    // Every scrape is valid text format; a scrape in the middle of the run shows it going.
    assert.ok(scrapes.length >= 3, `scraped ${scrapes.length} times`);
    const parsed = scrapes.map((s) => {
      assert.match(s.contentType, /^text\/plain; version=0\.0\.4/);
      return parsePrometheusText(s.text);
    });
    const requestsOf = (families: Map<string, PromFamily>): number =>
      total(families.get("tokbench_requests_total"), "tokbench_requests_total");
    const mid = parsed.find((f) => requestsOf(f) >= CONCURRENCY && requestsOf(f) <= REQUESTS_N - CONCURRENCY);
    assert.ok(mid !== undefined, `a scrape mid-run (requests seen: ${parsed.map(requestsOf).join(", ")})`);
    const seen = parsed.map(requestsOf).filter((n) => !Number.isNaN(n));
    for (let i = 1; i < seen.length; i++)
      assert.ok((seen[i] as number) >= (seen[i - 1] as number), "counts only grow");

    // Names and types as Prometheus' own OTLP ingestion gives them.
    const ttftName = "gen_ai_server_time_to_first_token_seconds";
    assert.equal(mid.get("tokbench_requests_total")?.type, "counter");
    assert.equal(mid.get("tokbench_requests_in_flight")?.type, "gauge");
    for (const name of [
      ttftName,
      "gen_ai_server_time_per_output_token_seconds",
      "gen_ai_client_operation_duration_seconds",
      "gen_ai_client_operation_time_to_first_chunk_seconds",
      "gen_ai_client_operation_time_per_output_chunk_seconds",
      "gen_ai_client_token_usage",
    ]) {
      checkHistogram(mid.get(name), name);
    }
    // Closed loop at concurrency 4, mid-run: every slot has a request in flight.
    assert.equal(total(mid.get("tokbench_requests_in_flight"), "tokbench_requests_in_flight"), CONCURRENCY);
    // Counts agree across metrics within one scrape.
    const ttft = mid.get(ttftName);
    const succeeded = total(mid.get("tokbench_requests_total"), "tokbench_requests_total", {
      tokbench_request_status: "succeeded",
    });
    assert.equal(total(ttft, `${ttftName}_count`), succeeded);
    assert.equal(
      total(
        mid.get("gen_ai_client_operation_duration_seconds"),
        "gen_ai_client_operation_duration_seconds_count",
      ),
      requestsOf(mid),
    );
    const bucket = ttft?.samples.find((s) => s.name === `${ttftName}_bucket`);
    assert.deepEqual(
      ttft?.samples.filter((s) => s.name === `${ttftName}_bucket`).map((s) => s.labels.le),
      [...(TIME_TO_FIRST_TOKEN.buckets ?? []).map(String), "+Inf"],
    );
    assert.equal(bucket?.labels.gen_ai_request_model, "m");
    assert.equal(bucket?.labels.gen_ai_provider_name, "openai");
    assert.equal(bucket?.labels.server_port, new URL(url).port);
    // The last scrape saw no more than the run recorded.
    const last = parsed.at(-1) as Map<string, PromFamily>;
    assert.ok(requestsOf(last) <= result.summary.requests.total);
    const info = last.get("target_info")?.samples[0]?.labels;
    assert.equal(info?.service_instance_id, result.run_id);
  });

  it("a port that is taken fails the command at once, before any request is sent", async () => {
    const blocker = http.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as AddressInfo).port;
    const before = mock.stats.requests;
    try {
      const run = await runCli(benchArgs(url, "-n", "2", "--no-save", "--prometheus-port", String(port)));
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        new RegExp(`cannot serve Prometheus metrics on 127\\.0\\.0\\.1:${port}: the port is in use`),
      );
      assert.match(run.stderr, /\[METRICS_PORT_UNAVAILABLE\]/);
      assert.equal(mock.stats.requests, before, "no request was sent");
    } finally {
      blocker.close();
    }
  });

  it("a wrong telemetry flag is a usage error (exit 2), refused before the server is contacted", async () => {
    for (const [flags, message] of [
      [
        ["--prometheus-port", "99999"],
        /--prometheus-port must be a non-negative integer up to 65,535 \(got "99999"\)/,
      ],
      [["--prometheus-host", "0.0.0.0"], /--prometheus-host needs --prometheus-port/],
      [
        ["--otlp-endpoint", "grpc://collector:4317"],
        /--otlp-endpoint must be an http:\/\/ or https:\/\/ URL/,
      ],
    ] as const) {
      // A port nothing listens on: a usage error must come before any connection is tried.
      const run = await runCli(benchArgs("http://127.0.0.1:9/v1", "-n", "1", "--no-save", ...flags));
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, message);
    }
  });
});
