import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RequestMetricsContext } from "../../src/metrics/computeRequestMetrics.js";
import { computeRequestMetrics } from "../../src/metrics/computeRequestMetrics.js";
import type { ObservedChunk, RequestObservation } from "../../src/records/RequestObservation.js";

const ctx: RequestMetricsContext = {
  index: 0,
  run_start_ms: 1000,
  max_tokens: null,
  prompt_tokens_exact: true,
  decode_ceiling_tps: null,
};

/** An observation sent at t=1000 ms whose chunks arrive at the given times, one read each. */
function observe(
  times: number[],
  extra: Partial<RequestObservation> = {},
  tokens?: (number | null)[],
): RequestObservation {
  const chunks: ObservedChunk[] = times.map((at, i) => ({
    at_ms: at,
    read_index: i,
    tokens: tokens?.[i] ?? null,
    chars: 4,
  }));
  return {
    planned_at_ms: 1000,
    sent_at_ms: 1000.5,
    headers_at_ms: 1001,
    end_at_ms: (times[times.length - 1] ?? 1001) + 2,
    status: 200,
    chunks,
    empty_chunks: 1,
    comments: 0,
    usage: null,
    server_timings: null,
    prompt_tokens_client: 100,
    output_tokens_tokenizer: null,
    error: null,
    ...extra,
  };
}

const close = (actual: number | null, expected: number, tol = 1e-9): void => {
  assert.notEqual(actual, null);
  assert.ok(Math.abs((actual as number) - expected) <= tol, `expected ${expected}, got ${actual}`);
};

describe("computeRequestMetrics", () => {
  it("single-token chunks: TTFT, E2E, decode rate, TPOT and ITL from known timings", () => {
    // First token at 1100.5 (TTFT 100 ms), then 9 tokens every 20 ms: last at 1280.5.
    const times = Array.from({ length: 10 }, (_, i) => 1100.5 + 20 * i);
    const m = computeRequestMetrics(
      observe(times, { usage: { prompt_tokens: 100, completion_tokens: 10, cached_prompt_tokens: null } }),
      ctx,
    );
    close(m.record.ttft_ms, 100);
    close(m.record.e2e_ms, 282);
    close(m.record.decode_ms, 180);
    close(m.record.decode_tps, 9 / 0.18);
    close(m.record.tpot_ms, 20);
    close(m.record.prefill_tps, 1000);
    close(m.record.dispatch_lag_ms, 0.5);
    assert.equal(m.record.output_tokens, 10);
    assert.equal(m.record.token_source, "usage");
    assert.equal(m.record.decode_tps_source, "client");
    assert.deepEqual(
      m.itl.map((s) => s.count),
      Array(9).fill(1),
    );
    for (const s of m.itl) close(s.gap_ms, 20, 1e-9);
    assert.deepEqual(m.record.flags, []);
  });

  it("multi-token chunks: a k-token chunk counts k tokens and gives k samples of gap/k", () => {
    // 4 chunks of 3 tokens each, 30 ms apart: 12 tokens; 9 after the first chunk over 90 ms.
    const m = computeRequestMetrics(
      observe([1050.5, 1080.5, 1110.5, 1140.5], {
        usage: { prompt_tokens: 10, completion_tokens: 12, cached_prompt_tokens: null },
      }),
      ctx,
    );
    assert.equal(m.record.output_tokens, 12);
    close(m.record.decode_tps, 9 / 0.09);
    close(m.record.tpot_ms, 10);
    assert.equal(m.itl.length, 3);
    for (const s of m.itl) {
      assert.equal(s.count, 3);
      close(s.gap_ms, 10);
    }
    assert.deepEqual(
      m.chunk_gaps_ms.map((g) => Math.round(g)),
      [30, 30, 30],
    );
  });

  it("missing usage falls back to the tokenizer count, then to the chunk count with a flag", () => {
    const times = [1010, 1020, 1030];
    const withTokenizer = computeRequestMetrics(observe(times, { output_tokens_tokenizer: 3 }), ctx);
    assert.equal(withTokenizer.record.token_source, "tokenizer");
    assert.ok(!withTokenizer.record.flags.includes("chunk_count_estimate"));
    const bare = computeRequestMetrics(observe(times), ctx);
    assert.equal(bare.record.token_source, "chunks");
    assert.equal(bare.record.output_tokens, 3);
    assert.ok(bare.record.flags.includes("chunk_count_estimate"));
  });

  it("exact per-chunk token counts from the engine are used as they are", () => {
    const m = computeRequestMetrics(observe([1010, 1020, 1030], {}, [1, 2, 1]), ctx);
    assert.equal(m.record.token_source, "engine");
    assert.equal(m.record.output_tokens, 4);
    close(m.record.decode_tps, 3 / 0.02);
  });

  it("a buffered flush gives no client decode rate, reports the server's, and flags it", () => {
    const obs = observe([1500, 1500, 1500, 1500, 1500], {
      usage: { prompt_tokens: 10, completion_tokens: 5, cached_prompt_tokens: null },
      server_timings: {
        source: "llama.cpp",
        prompt_tokens: 10,
        prompt_ms: 5,
        output_tokens: 5,
        decode_ms: 100,
        cached_tokens: 0,
        load_ms: null,
      },
    });
    for (const c of obs.chunks) c.read_index = 7;
    const m = computeRequestMetrics(obs, ctx);
    assert.ok(m.record.flags.includes("buffered_stream"));
    assert.equal(m.record.tpot_ms, null);
    assert.equal(m.record.decode_tps, 50);
    assert.equal(m.record.decode_tps_source, "server");
    assert.deepEqual(m.itl, []);
  });

  it("a buffered flush without server timings reports no decode rate at all", () => {
    const obs = observe([1500, 1500, 1500]);
    for (const c of obs.chunks) c.read_index = 3;
    const m = computeRequestMetrics(obs, ctx);
    assert.equal(m.record.decode_tps, null);
    assert.equal(m.record.decode_tps_source, null);
  });

  it("normalises llama.cpp timings and flags a client/server disagreement over 20 %", () => {
    const server = {
      source: "llama.cpp",
      prompt_tokens: 100,
      prompt_ms: 50,
      output_tokens: 11,
      decode_ms: 100,
      cached_tokens: 0,
      load_ms: null,
    };
    // Client: 10 tokens after the first in 100 ms = 100 tok/s; server 110 tok/s: within 20 %.
    const times = Array.from({ length: 11 }, (_, i) => 1100 + 10 * i);
    const agree = computeRequestMetrics(observe(times, { server_timings: server }), ctx);
    assert.equal(agree.record.server_timings?.prefill_tps, 2000);
    assert.equal(agree.record.server_timings?.decode_tps, 110);
    assert.ok(!agree.record.flags.includes("timing_mismatch"));
    const slow = computeRequestMetrics(observe(times, { server_timings: { ...server, decode_ms: 50 } }), ctx);
    assert.ok(slow.record.flags.includes("timing_mismatch"));
  });

  it("flags short output, prefix-cache hits and approximate prompt lengths", () => {
    const m = computeRequestMetrics(
      observe([1010, 1020], {
        usage: { prompt_tokens: null, completion_tokens: 2, cached_prompt_tokens: 64 },
      }),
      { ...ctx, max_tokens: 16, prompt_tokens_exact: false },
    );
    assert.ok(m.record.flags.includes("short_output"));
    assert.ok(m.record.flags.includes("prefix_cache_hit"));
    assert.ok(m.record.flags.includes("approximate_prompt_length"));
  });

  it("does not count the chat template and the shared lead of unique prompts as a cache hit", () => {
    // 100 content tokens (unique from token 4) + 17 template tokens = 117 prompt tokens.
    const withCache = (cached: number) =>
      computeRequestMetrics(
        observe([1010, 1020], {
          usage: { prompt_tokens: 117, completion_tokens: 2, cached_prompt_tokens: cached },
        }),
        { ...ctx, unique_from_token: 4 },
      ).record.flags.includes("prefix_cache_hit");
    assert.equal(withCache(21), false);
    assert.equal(withCache(22), true);
    // Without knowing where prompts become unique, any cached token is a hit.
    const unknown = computeRequestMetrics(
      observe([1010, 1020], { usage: { prompt_tokens: 117, completion_tokens: 2, cached_prompt_tokens: 1 } }),
      ctx,
    );
    assert.ok(unknown.record.flags.includes("prefix_cache_hit"));
  });

  it("prefill counts only the prompt tokens the server did not serve from its cache", () => {
    // TTFT 9.5 ms; 117 prompt tokens of which 98 were cached: 19 computed.
    const m = computeRequestMetrics(
      observe([1010, 1020], {
        usage: { prompt_tokens: 117, completion_tokens: 2, cached_prompt_tokens: 98 },
      }),
      ctx,
    );
    close(m.record.prefill_tps, 19 / 0.0095, 1e-6);
    assert.equal(m.record.prompt_tokens, 117);
    // llama.cpp reports the cache only in its timings.
    const t = computeRequestMetrics(
      observe([1010, 1020], {
        usage: { prompt_tokens: 117, completion_tokens: 2, cached_prompt_tokens: null },
        server_timings: {
          source: "llama.cpp",
          prompt_tokens: 19,
          prompt_ms: 5,
          output_tokens: 2,
          decode_ms: 10,
          cached_tokens: 98,
          load_ms: null,
        },
      }),
      ctx,
    );
    close(t.record.prefill_tps, 19 / 0.0095, 1e-6);
  });

  it("speculative decoding: accepted drafts arriving in bursts are neither buffering nor extra tokens", () => {
    // 1 token, then 8 verification steps 40 ms apart, each sending its own token plus 3 accepted
    // drafts as 4 one-token chunks in one socket read: 33 tokens, 32 of them after the first.
    const chunks: ObservedChunk[] = [{ at_ms: 1100, read_index: 0, tokens: null, chars: 4 }];
    for (let step = 1; step <= 8; step++) {
      for (let k = 0; k < 4; k++)
        chunks.push({ at_ms: 1100 + 40 * step, read_index: step, tokens: null, chars: 4 });
    }
    const timings = {
      source: "llama.cpp",
      prompt_tokens: 10,
      prompt_ms: 90,
      output_tokens: 33,
      decode_ms: 330,
      cached_tokens: 0,
      load_ms: null,
      draft_tokens: 40,
      draft_accepted_tokens: 24,
    };
    const obs = observe([], {
      chunks,
      end_at_ms: 1421,
      usage: { prompt_tokens: 10, completion_tokens: 33, cached_prompt_tokens: 0 },
      server_timings: timings,
    });
    const m = computeRequestMetrics(obs, ctx);
    assert.equal(m.record.output_tokens, 33, "rejected drafts are not output");
    assert.deepEqual(m.record.flags, []);
    close(m.record.decode_tps, 32 / 0.32);
    assert.equal(m.record.decode_tps_source, "client");
    // Without the server saying drafts were accepted, the same arrivals look buffered (24 of 32
    // tokens coalesced), and the client rate is not reported.
    const unexplained = computeRequestMetrics(
      { ...obs, server_timings: { ...timings, draft_tokens: null, draft_accepted_tokens: null } },
      ctx,
    );
    assert.ok(unexplained.record.flags.includes("buffered_stream"));
    assert.equal(unexplained.record.decode_tps_source, "server");
    // A stream flushed at once stays buffered whatever the drafts.
    const flushed = computeRequestMetrics(
      { ...obs, chunks: chunks.map((c) => ({ ...c, at_ms: 1420, read_index: 1 })) },
      ctx,
    );
    assert.ok(flushed.record.flags.includes("buffered_stream"));
  });

  it("a decode rate above the physical ceiling is flagged impossible and not reported", () => {
    const m = computeRequestMetrics(observe([1010, 1011, 1012]), { ...ctx, decode_ceiling_tps: 100 });
    assert.ok(m.record.flags.includes("impossible_decode_rate"));
    assert.equal(m.record.decode_tps, null);
  });

  it("a failed request without tokens has no TTFT and keeps its error", () => {
    const m = computeRequestMetrics(
      observe([], {
        status: 500,
        error: { code: "REQUEST_HTTP_ERROR", message: "HTTP 500", status: 500 },
        end_at_ms: 1003,
      }),
      ctx,
    );
    assert.equal(m.record.ttft_ms, null);
    assert.equal(m.record.output_tokens, 0);
    assert.equal(m.record.error?.code, "REQUEST_HTTP_ERROR");
    close(m.record.e2e_ms, 2.5);
  });
});

describe("stop_token_leak", () => {
  it("is raised when the target found a chat template's stop token in the text", async () => {
    const { StopTokenScanner } = await import("../../src/metrics/StopTokenScanner.js");
    const scanner = new StopTokenScanner();
    for (const piece of ["Hello", " world<|im", "_e", "nd|>", " more"]) scanner.push(piece);
    assert.equal(scanner.found, "<|im_end|>");
    const clean = new StopTokenScanner();
    for (const piece of ["a < b", " and <b>bold</b>", " x</", "p>"]) clean.push(piece);
    assert.equal(clean.found, null);
    const eos = new StopTokenScanner();
    for (const piece of ["done.<", "/", "s>"]) eos.push(piece);
    assert.equal(eos.found, "</s>");
  });
});
