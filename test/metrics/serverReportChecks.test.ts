import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  computeRequestMetrics,
  type RequestMetricsContext,
} from "../../src/metrics/computeRequestMetrics.js";
import {
  MAX_SERVER_DECODE_TPS,
  plausibleOutputUsage,
  plausiblePromptUsage,
  plausibleServerTimings,
} from "../../src/metrics/serverReportChecks.js";
import type {
  ObservedChunk,
  RequestObservation,
  ServerReportedTimings,
  ServerUsage,
} from "../../src/records/RequestObservation.js";

const ctx: RequestMetricsContext = {
  index: 0,
  run_start_ms: 0,
  max_tokens: 8,
  prompt_tokens_exact: false,
  decode_ceiling_tps: null,
  prompt_chars: 40,
};

/**
 * Ground truth: a request sent at t=0 whose 8 single-token chunks (4 characters each) arrive from
 * t=100 ms every 10 ms, ending at t=172 ms; the client's prompt count is 10.
 */
function observe(usage: Partial<ServerUsage> | null, timings: Partial<ServerReportedTimings> | null = null) {
  const chunks: ObservedChunk[] = Array.from({ length: 8 }, (_, i) => ({
    at_ms: 100 + 10 * i,
    read_index: i,
    tokens: null,
    chars: 4,
  }));
  const obs: RequestObservation = {
    planned_at_ms: 0,
    sent_at_ms: 0,
    headers_at_ms: 50,
    end_at_ms: 172,
    status: 200,
    chunks,
    empty_chunks: 0,
    comments: 0,
    usage:
      usage === null
        ? null
        : { prompt_tokens: 10, completion_tokens: 8, cached_prompt_tokens: null, ...usage },
    server_timings:
      timings === null
        ? null
        : {
            source: "llama.cpp",
            prompt_tokens: 10,
            prompt_ms: 50,
            output_tokens: 8,
            decode_ms: 70,
            cached_tokens: 0,
            load_ms: null,
            ...timings,
          },
    prompt_tokens_client: 10,
    output_tokens_tokenizer: null,
    error: null,
  };
  return obs;
}

describe("server-reported usage and timings that cannot be true", () => {
  it("completion_tokens: the true count passes; every impossible one is refused", () => {
    assert.equal(plausibleOutputUsage(observe({ completion_tokens: 8 }), 8), true);
    assert.equal(plausibleOutputUsage(observe({ completion_tokens: 4 }), 8), true, "half the chunks");
    assert.equal(plausibleOutputUsage(observe({ completion_tokens: 3 }), 8), false, "under half the chunks");
    for (const bad of [-3, 2.5, Number.NaN, Number.POSITIVE_INFINITY, 1e12, 9]) {
      assert.equal(plausibleOutputUsage(observe({ completion_tokens: bad }), 8), false, String(bad));
    }
    // No max_tokens: bounded by the text, 3 tokens per character (32 characters) plus 16.
    assert.equal(plausibleOutputUsage(observe({ completion_tokens: 112 }), null), true);
    assert.equal(plausibleOutputUsage(observe({ completion_tokens: 113 }), null), false);
    // A server that ignored max_tokens (more chunks than it): the text bound applies instead.
    assert.equal(plausibleOutputUsage(observe({ completion_tokens: 8 }), 4), true);
    assert.equal(plausibleOutputUsage(observe(null), 8), false, "absent");
  });

  it("prompt_tokens: a non-negative integer, at least 1, at most 3 per character plus the template allowance", () => {
    assert.equal(plausiblePromptUsage(observe({ prompt_tokens: 10 }), 40), true);
    assert.equal(plausiblePromptUsage(observe({ prompt_tokens: 3 * 40 + 8192 }), 40), true);
    for (const bad of [-5, 0, 1.5, 3 * 40 + 8193, 1e12]) {
      assert.equal(plausiblePromptUsage(observe({ prompt_tokens: bad }), 40), false, String(bad));
    }
    assert.equal(plausiblePromptUsage(observe({ prompt_tokens: 1e6 }), null), true, "no prompt length known");
  });

  it("timings: non-negative, within the client's wait, and below a rate no hardware reaches", () => {
    const e2e = 172;
    assert.equal(
      plausibleServerTimings(observe(null, {}).server_timings as ServerReportedTimings, e2e),
      true,
    );
    const bad: Partial<ServerReportedTimings>[] = [
      { decode_ms: -70 },
      { prompt_ms: Number.NaN },
      { output_tokens: -8 },
      { prompt_tokens: 2.5 },
      { decode_ms: 1e9 },
      { prompt_ms: 200, decode_ms: 150 }, // 350 ms > 1.5 × 172 + 50
      { output_tokens: 8, decode_ms: (8 * 1000) / (MAX_SERVER_DECODE_TPS * 2) },
    ];
    for (const timings of bad) {
      const t = observe(null, timings).server_timings as ServerReportedTimings;
      assert.equal(plausibleServerTimings(t, e2e), false, JSON.stringify(timings));
    }
  });

  it("an implausible count is flagged and replaced by the next source; no rate is negative or absurd", () => {
    const cases: [Partial<ServerUsage>, number | null][] = [
      [{ completion_tokens: 1e12 }, null],
      [{ completion_tokens: -3 }, null],
      [{ completion_tokens: 1e12 }, 8],
    ];
    for (const [usage, tokenizer] of cases) {
      const obs = { ...observe(usage), output_tokens_tokenizer: tokenizer };
      const { record } = computeRequestMetrics(obs, ctx);
      assert.ok(record.flags.includes("usage_implausible"), JSON.stringify(usage));
      assert.equal(record.output_tokens, 8, "the chunk count or the tokenizer: 8 either way");
      assert.equal(record.token_source, tokenizer === null ? "chunks" : "tokenizer");
      // 7 tokens after the first over 70 ms.
      assert.equal(record.decode_tps, 100);
    }
    const negativePrompt = computeRequestMetrics(observe({ prompt_tokens: -5 }), ctx).record;
    assert.deepEqual(negativePrompt.flags, ["approximate_prompt_length", "usage_implausible"]);
    assert.equal(negativePrompt.prompt_tokens, 10, "the client's count");
    assert.equal(negativePrompt.prefill_tps, 100, "10 tokens over a 100 ms TTFT");
    const good = computeRequestMetrics(observe({}), ctx).record;
    assert.deepEqual(good.flags, []);
    assert.equal(good.token_source, "usage");
  });

  it("implausible timings are flagged, give no server rate, and neither their prompt nor their cache count is used", () => {
    const { record } = computeRequestMetrics(
      observe(null, { prompt_tokens: 1e12, prompt_ms: -1, decode_ms: 1e-9, cached_tokens: 999 }),
      ctx,
    );
    assert.ok(record.flags.includes("timings_implausible"));
    assert.ok(
      !record.flags.includes("prefix_cache_hit"),
      "the cache count of implausible timings is not believed",
    );
    assert.equal(record.server_timings?.decode_tps, null);
    assert.equal(record.server_timings?.prefill_tps, null);
    assert.equal(record.prompt_tokens, 10);
    // Plausible timings are used as before: 8 tokens in 70 ms.
    const fine = computeRequestMetrics(observe(null, {}), ctx).record;
    assert.ok(!fine.flags.includes("timings_implausible"));
    assert.ok(Math.abs((fine.server_timings?.decode_tps as number) - 8000 / 70) < 1e-9);
  });

  it("a server decode rate above the physical ceiling is flagged and not reported either", () => {
    // Buffered: every chunk in one read, so the server's figure would stand in for the client's.
    const obs = observe({}, { decode_ms: 8 });
    for (const chunk of obs.chunks) chunk.read_index = 0;
    const { record } = computeRequestMetrics(obs, { ...ctx, decode_ceiling_tps: 500 });
    assert.ok(record.flags.includes("impossible_decode_rate"));
    assert.equal(record.server_timings?.decode_tps, null);
    assert.equal(record.decode_tps, null, "1000 tok/s from the server is above the 500 tok/s ceiling");
  });
});
