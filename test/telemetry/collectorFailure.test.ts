import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { MockServer } from "../../src/mock/MockServer.js";
import type { RunResult } from "../../src/results/RunResult.js";
import { benchArgs, runCli } from "../cli/runCli.js";
import { type OtlpReceiver, startOtlpReceiver } from "./otlpReceiver.js";

/** Export timeout the failing runs are given, so the test waits for it a few times at most. */
const TIMEOUT_MS = 1000;

/** A run that lasts about a second: long enough for several periodic exports at a 200 ms interval. */
const RUN_FLAGS = [
  "-n",
  "16",
  "-c",
  "4",
  "--max-tokens",
  "10",
  "--prompt-tokens",
  "16",
  "--no-save",
  "--json",
];

/** Environment of the failing runs: exports every 200 ms, each given up after a second. */
const EXPORT_ENV = { OTEL_METRIC_EXPORT_INTERVAL: "200", OTEL_EXPORTER_OTLP_TIMEOUT: String(TIMEOUT_MS) };

interface TimedRun {
  code: number | null;
  stderr: string;
  result: RunResult;
  wallMs: number;
}

describe("a collector that is down, hangs or refuses never fails or slows the run", () => {
  let mock: MockServer;
  let url: string;
  let baseline: TimedRun;

  const timedRun = async (extra: string[], env: Record<string, string> = {}): Promise<TimedRun> => {
    const started = performance.now();
    const run = await runCli(benchArgs(url, ...RUN_FLAGS, ...extra), { env });
    const wallMs = performance.now() - started;
    assert.equal(run.code, 0, run.stderr);
    return { code: run.code, stderr: run.stderr, result: JSON.parse(run.stdout) as RunResult, wallMs };
  };

  /** The run measured what the baseline did (same requests, no slower beyond noise). */
  const assertUnaffected = (run: TimedRun, what: string): void => {
    assert.equal(run.result.status, "completed");
    assert.equal(run.result.summary.requests.succeeded, baseline.result.summary.requests.succeeded);
    const ratio =
      (run.result.summary.duration_ms as number) / (baseline.result.summary.duration_ms as number);
    // The measured phase never waits for an export: it lasts what the baseline's did, give or take
    // the noise of a busy two-core machine.
    assert.ok(ratio < 1.5, `${what}: measured phase ${ratio.toFixed(2)} x the baseline's`);
    // The end waits for the last export at most about twice the timeout (one under way, one final).
    const extraMs = run.wallMs - baseline.wallMs;
    assert.ok(extraMs < 2 * TIMEOUT_MS + 2500, `${what}: the command took ${extraMs.toFixed(0)} ms longer`);
    // One warning line at the end, whatever the number of failed exports.
    const warnings = run.stderr.split("\n").filter((line) => line.includes("warning: metrics export"));
    assert.equal(warnings.length, 1, run.stderr);
    assert.match(warnings[0] as string, /the run and its results are unaffected/);
  };

  before(async () => {
    mock = new MockServer({ ttftMs: 20, itlMs: 10 });
    url = await mock.start();
    baseline = await timedRun([]);
  });
  after(async () => {
    await mock.close();
  });

  it("a collector that is down (connection refused)", async (t) => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const run = await timedRun(["--otlp-endpoint", `http://127.0.0.1:${port}`], EXPORT_ENV);
    assertUnaffected(run, "collector down");
    assert.match(run.stderr, /exports? failed: connect ECONNREFUSED 127\.0\.0\.1:\d+\)/);
    t.diagnostic(
      `collector down: measured phase ${run.result.summary.duration_ms?.toFixed(0)} ms vs ${baseline.result.summary.duration_ms?.toFixed(0)} ms; command ${run.wallMs.toFixed(0)} ms vs ${baseline.wallMs.toFixed(0)} ms`,
    );
  });

  it("a collector that accepts and never answers", async (t) => {
    const receiver: OtlpReceiver = await startOtlpReceiver("hang");
    try {
      const run = await timedRun(["--otlp-endpoint", receiver.url], EXPORT_ENV);
      assertUnaffected(run, "collector hangs");
      assert.ok(receiver.received.length >= 1, "the exports reached it");
      assert.match(run.stderr, /Request timed out|did not finish in time/);
      t.diagnostic(
        `collector hangs: measured phase ${run.result.summary.duration_ms?.toFixed(0)} ms vs ${baseline.result.summary.duration_ms?.toFixed(0)} ms; command ${run.wallMs.toFixed(0)} ms vs ${baseline.wallMs.toFixed(0)} ms; ${receiver.received.length} exports sent`,
      );
    } finally {
      await receiver.close();
    }
  });

  it("a collector that refuses the credentials: the status is told, the credentials never are", async () => {
    const receiver = await startOtlpReceiver({ status: 401, echoAuthorization: true });
    try {
      const endpoint = receiver.url.replace("http://", "http://team:pa55word-otlp@");
      const run = await timedRun(["--otlp-endpoint", endpoint], {
        ...EXPORT_ENV,
        OTEL_EXPORTER_OTLP_METRICS_HEADERS: "Authorization=Bearer sk-otlp-9f8e7d6c",
      });
      assertUnaffected(run, "collector refuses");
      assert.equal(receiver.received[0]?.headers.authorization, "Bearer sk-otlp-9f8e7d6c");
      assert.match(run.stderr, /failed: HTTP 401/);
      assert.match(run.stderr, /http:\/\/\[redacted\]@127\.0\.0\.1:\d+\/v1\/metrics/);
      for (const secret of ["sk-otlp-9f8e7d6c", "pa55word-otlp"]) {
        assert.ok(!run.stderr.includes(secret), `${secret} is not printed`);
        assert.ok(!JSON.stringify(run.result).includes(secret), `${secret} is not in the result`);
      }
    } finally {
      await receiver.close();
    }
  });
});
