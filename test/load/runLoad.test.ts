import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { buildRequestSource } from "../../src/benchmark/buildRequestSource.js";
import type { LoadOptions } from "../../src/load/LoadOptions.js";
import { runLoad } from "../../src/load/runLoad.js";
import { MockServer } from "../../src/mock/MockServer.js";
import { OpenAiTarget } from "../../src/targets/openai/OpenAiTarget.js";

const load = (over: Partial<LoadOptions>): LoadOptions => ({
  requests: 8,
  duration_s: null,
  concurrency: 1,
  rate: null,
  arrival: "constant",
  warmup: 0,
  max_errors: null,
  seed: 0,
  ...over,
});

async function setup(mock: MockServer, maxTokens = 8) {
  const url = await mock.start();
  const target = new OpenAiTarget({ baseUrl: url, model: "m" });
  const source = await buildRequestSource(
    {
      prompt_tokens: 24,
      prompt_file: null,
      max_tokens: maxTokens,
      force_output_length: true,
      unique_prefix: true,
      seed: 0,
    },
    target,
  );
  return { target, source };
}

describe("runLoad against the mock server", () => {
  let active = 0;
  let peakActive = 0;
  const mock = new MockServer({
    ttftMs: 15,
    itlMs: 5,
    onRequest() {
      active++;
      peakActive = Math.max(peakActive, active);
    },
    onChunkSent(_id, chunkIndex) {
      if (chunkIndex === 7) active--;
    },
  });
  let ctx: Awaited<ReturnType<typeof setup>>;
  before(async () => {
    ctx = await setup(mock);
  });
  after(async () => {
    await ctx.target.close();
    await mock.close();
  });

  it("with busy_poll keeps the event loop polling while requests are in flight, and only then", async () => {
    const run = async (busyPoll: boolean): Promise<number> => {
      // Event-loop utilisation: the share of time not spent asleep waiting for I/O.
      const before = performance.eventLoopUtilization();
      const out = await runLoad({
        target: ctx.target,
        requestAt: ctx.source.requestAt,
        load: load({ requests: 3, busy_poll: busyPoll }),
        prompt_tokens_exact: true,
      });
      assert.equal(out.summary.requests.succeeded, 3);
      return performance.eventLoopUtilization(before).utilization;
    };
    const idle = await run(false);
    const polling = await run(true);
    assert.ok(polling > 0.9, `the loop never slept while polling (utilisation ${polling})`);
    assert.ok(idle < 0.6, `without it the loop sleeps between chunks (utilisation ${idle})`);
    const after = performance.eventLoopUtilization();
    await new Promise((resolve) => setTimeout(resolve, 30));
    const rest = performance.eventLoopUtilization(after).utilization;
    assert.ok(rest < 0.5, `the polling stopped with the last request (utilisation ${rest})`);
  });

  it("measures exact prompt lengths with the server's tokenizer and forced output lengths", async () => {
    assert.equal(ctx.source.prompt_tokens_exact, true);
    const out = await runLoad({
      target: ctx.target,
      requestAt: ctx.source.requestAt,
      load: load({ requests: 4 }),
      prompt_tokens_exact: true,
    });
    assert.equal(out.status, "completed");
    assert.equal(out.summary.requests.succeeded, 4);
    for (const r of out.requests) {
      assert.equal(r.output_tokens, 8);
      assert.equal(r.token_source, "usage");
      assert.ok(!r.flags.includes("approximate_prompt_length"));
      assert.ok((r.ttft_ms as number) >= 15, `TTFT ${r.ttft_ms} is at least the scripted 15 ms`);
      // The mock keeps absolute deadlines, so a late first chunk shortens the measured span a little.
      assert.ok(
        (r.tpot_ms as number) > 4 && (r.tpot_ms as number) < 8,
        `TPOT ${r.tpot_ms} near the scripted 5 ms`,
      );
    }
  });

  it("keeps exactly the asked number of requests in flight in a closed loop", async () => {
    peakActive = 0;
    const out = await runLoad({
      target: ctx.target,
      requestAt: ctx.source.requestAt,
      load: load({ requests: 24, concurrency: 6 }),
      prompt_tokens_exact: true,
    });
    assert.equal(out.requests.length, 24);
    assert.equal(peakActive, 6);
    assert.deepEqual(
      out.requests
        .toArray()
        .map((r) => r.index)
        .sort((a, b) => a - b),
      Array.from({ length: 24 }, (_, i) => i),
    );
  });

  it("sends open-loop requests at their planned times", async () => {
    const out = await runLoad({
      target: ctx.target,
      requestAt: ctx.source.requestAt,
      load: load({ requests: 10, rate: 50, concurrency: 100 }),
      prompt_tokens_exact: true,
    });
    const planned = out.requests
      .toArray()
      .map((r) => r.planned_offset_ms)
      .sort((a, b) => a - b);
    for (const [i, p] of planned.entries())
      assert.ok(Math.abs(p - i * 20) < 1e-6, `request ${i} planned at ${p}`);
    for (const r of out.requests)
      assert.ok(r.dispatch_lag_ms >= 0 && r.dispatch_lag_ms < 50, `lag ${r.dispatch_lag_ms}`);
  });

  it("stops sending at the duration bound", async () => {
    const out = await runLoad({
      target: ctx.target,
      requestAt: ctx.source.requestAt,
      load: load({ requests: null, duration_s: 0.3 }),
      prompt_tokens_exact: true,
    });
    // Each request takes about 15 + 7 × 5 = 50 ms: about 6 fit in 0.3 s, one at a time.
    assert.ok(out.requests.length >= 2 && out.requests.length <= 8, `${out.requests.length} requests`);
    assert.ok(Math.max(...out.requests.toArray().map((r) => r.sent_offset_ms)) < 300);
  });

  it("stops on SIGINT-style abort, keeps what finished and counts what was cut off", async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 120);
    const out = await runLoad({
      target: ctx.target,
      requestAt: ctx.source.requestAt,
      load: load({ requests: 1000, concurrency: 2 }),
      prompt_tokens_exact: true,
      signal: abort.signal,
    });
    assert.equal(out.status, "interrupted");
    assert.ok(out.requests.length >= 2 && out.requests.length < 1000);
    assert.ok(out.requests.toArray().every((r) => r.error === null));
    assert.equal(out.summary.requests.cancelled, 2);
  });
});

describe("runLoad with a failing server", () => {
  it("records HTTP 500s as failed requests and aborts at --max-errors", async () => {
    const mock = new MockServer({ ttftMs: 1, itlMs: 1, errorRate: 0.5, seed: 3 });
    const ctx = await setup(mock, 4);
    try {
      const out = await runLoad({
        target: ctx.target,
        requestAt: ctx.source.requestAt,
        load: load({ requests: 40 }),
        prompt_tokens_exact: true,
      });
      assert.equal(out.summary.requests.total, 40);
      assert.ok(out.summary.requests.failed > 5 && out.summary.requests.failed < 35);
      assert.equal(out.summary.requests.errors_by_code.REQUEST_HTTP_ERROR, out.summary.requests.failed);
      assert.equal(out.summary.ttft_ms.count, out.summary.requests.succeeded);
      const aborted = await runLoad({
        target: ctx.target,
        requestAt: ctx.source.requestAt,
        load: load({ requests: 40, max_errors: 3 }),
        prompt_tokens_exact: true,
      });
      assert.equal(aborted.status, "aborted");
      assert.equal(aborted.summary.requests.failed, 3);
      assert.match(aborted.status_reason ?? "", /max-errors 3/);
    } finally {
      await ctx.target.close();
      await mock.close();
    }
  });
});
