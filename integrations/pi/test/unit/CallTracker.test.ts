import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RequestObservation } from "tokbench";
import type { CallLogRecord } from "../../src/record/CallLogRecord.js";
import { type ArrivalKind, type CallStart, CallTracker, type PiUsage } from "../../src/record/CallTracker.js";

const START: CallStart = { provider: "local", model: "m", api: "openai-completions", max_tokens: 256 };
const T0 = 10_000;

function tracker(decodeCeilingTps: number | null = null): CallTracker {
  return new CallTracker({
    sessionId: "s",
    decodeCeilingTps,
    timeOrigin: 1_700_000_000_000,
    monotonicOrigin: 5_000_000,
  });
}

function usage(input: number, output: number, cacheRead = 0): PiUsage {
  return { input, output, cacheRead, cacheWrite: 0 };
}

interface Arrival {
  at: number;
  read: number;
  kind?: ArrivalKind;
  chars?: number;
}

/** A call started at T0 with headers at T0 + 5, the given arrivals, and `message_end` at `endAt`. */
function call(
  arrivals: Arrival[],
  end: { usage: PiUsage | null; stop: string; endAt: number; error?: string },
  t = tracker(),
  start: CallStart = START,
): CallLogRecord {
  t.start(start, T0);
  t.response(200, T0 + 5);
  for (const a of arrivals) t.arrival(a.kind ?? "text", a.chars ?? 4, a.at, a.read);
  const record = t.end(
    { usage: end.usage, stop_reason: end.stop, error_message: end.error ?? null },
    end.endAt,
  );
  assert.notEqual(record, null);
  assertNoNegativeDuration(record as CallLogRecord);
  return record as CallLogRecord;
}

/** Evenly spaced one-per-read arrivals: `n` of them, the first at `first`, then every `gap` ms. */
function stream(n: number, first: number, gap: number, kind: ArrivalKind = "text"): Arrival[] {
  return Array.from({ length: n }, (_, i) => ({ at: first + gap * i, read: i, kind }));
}

function assertNoNegativeDuration(r: CallLogRecord): void {
  for (const [name, value] of Object.entries({
    ttft_ms: r.ttft_ms,
    decode_ms: r.decode_ms,
    tpot_ms: r.tpot_ms,
    e2e_ms: r.e2e_ms,
    prefill_tps: r.prefill_tps,
    decode_tps: r.decode_tps,
    ...r.raw_timestamps,
  })) {
    if (value !== null) assert.ok(value >= 0, `${name} is ${value}`);
  }
  const ts = r.raw_timestamps;
  const order = [ts.request_sent, ts.response_headers, ts.first_token, ts.last_token, ts.end].filter(
    (v): v is number => v !== null,
  );
  for (let i = 1; i < order.length; i++)
    assert.ok((order[i] as number) >= (order[i - 1] as number), "phases in order");
}

const close = (actual: number | null, expected: number, tol = 1e-9): void => {
  assert.notEqual(actual, null);
  assert.ok(Math.abs((actual as number) - expected) <= tol, `expected ${expected}, got ${actual}`);
};

describe("CallTracker: pi's events to tokbench's metrics, the seed's cases", () => {
  it("small prompt, short output: TTFT from the first token, decode over the tokens after it", () => {
    const r = call(stream(3, T0 + 40, 15), { usage: usage(12, 3), stop: "stop", endAt: T0 + 71 });
    close(r.ttft_ms, 40);
    close(r.decode_ms, 30);
    close(r.decode_tps, 2 / 0.03);
    close(r.prefill_tps, 12 / 0.04);
    close(r.e2e_ms, 71);
    assert.equal(r.output_tokens, 3);
    assert.equal(r.token_source, "usage");
    assert.deepEqual(r.raw_timestamps, {
      request_sent: 0,
      response_headers: 5,
      first_token: 40,
      last_token: 70,
      end: 71,
    });
    assert.deepEqual(r.phase_tokens, {
      prefill: 12,
      cached: 0,
      first_arrival: 1,
      decode: 2,
      by_kind: { text: 3, thinking: 0, tool_call: 0 },
    });
    assert.deepEqual(r.flags, ["short_output"], "3 of 256 tokens: the call stopped before its limit");
  });

  it("large prompt, long output: prefill over the uncached prompt, decode over 500 tokens", () => {
    // 12,000 prompt tokens, 9,000 of them from the cache; 500 tokens at 20 ms after a 1.5 s TTFT.
    const r = call(stream(500, T0 + 1500, 20), {
      usage: usage(3000, 500, 9000),
      stop: "length",
      endAt: T0 + 11_500,
    });
    close(r.ttft_ms, 1500);
    close(r.decode_tps, 50, 1e-9);
    close(r.tpot_ms, 20, 1e-9);
    close(r.prefill_tps, 3000 / 1.5, 1e-9);
    assert.equal(r.input_tokens, 3000);
    assert.equal(r.cached_tokens, 9000);
    assert.equal(r.phase_tokens.prefill, 3000);
    assert.equal(r.phase_tokens.decode, 499);
    assert.ok(r.flags.includes("prefix_cache_hit"));
    assert.ok(!r.flags.includes("short_output"), "500 tokens is not short of a 256 limit");
  });

  it("multi-token arrivals: tokens beyond the arrivals are shared by text length, none lost", () => {
    // 10 arrivals of 4 tokens each (16 characters), 40 ms apart.
    const arrivals = stream(10, T0 + 30, 40).map((a) => ({ ...a, chars: 16 }));
    const r = call(arrivals, { usage: usage(20, 40), stop: "stop", endAt: T0 + 400 });
    assert.equal(r.phase_tokens.first_arrival, 4);
    close(r.decode_tps, 36 / 0.36, 1e-9);
  });

  it("speculative decoding through the tokbench provider: bursts of accepted drafts, drafts not counted", () => {
    // The socket view: 1 token, then 10 verification steps 30 ms apart, each a burst of 3 chunks
    // (its own token + 2 accepted drafts) in one read; llama.cpp says 30 drafted, 20 accepted.
    const t = tracker();
    t.start(START, T0);
    const chunks = [{ at_ms: T0 + 60, read_index: 0, tokens: null, chars: 4 }];
    for (let step = 1; step <= 10; step++)
      for (let k = 0; k < 3; k++)
        chunks.push({ at_ms: T0 + 60 + 30 * step, read_index: step, tokens: null, chars: 4 });
    const observation: RequestObservation = {
      planned_at_ms: T0,
      sent_at_ms: T0 + 1,
      headers_at_ms: T0 + 2,
      end_at_ms: T0 + 361,
      status: 200,
      chunks,
      empty_chunks: 2,
      comments: 0,
      usage: { prompt_tokens: 40, completion_tokens: 31, cached_prompt_tokens: 0 },
      server_timings: {
        source: "llama.cpp",
        prompt_tokens: 40,
        prompt_ms: 50,
        output_tokens: 31,
        decode_ms: 300,
        cached_tokens: 0,
        load_ms: null,
        draft_tokens: 30,
        draft_accepted_tokens: 20,
      },
      prompt_tokens_client: null,
      output_tokens_tokenizer: null,
      error: null,
    };
    t.attachSocketObservation(observation, Array(31).fill("text"));
    const r = t.end(
      { usage: usage(40, 31), stop_reason: "stop", error_message: null },
      T0 + 365,
    ) as CallLogRecord;
    assertNoNegativeDuration(r);
    assert.equal(r.clock, "socket");
    assert.equal(r.output_tokens, 31, "the 10 rejected drafts are not output");
    close(r.decode_tps, 30 / 0.3, 1e-9);
    close(r.ttft_ms, 59);
    assert.equal(r.raw_timestamps.request_sent, 1);
    assert.deepEqual(r.flags, ["short_output"], "not buffered: the bursts are the accepted drafts");
    assert.equal(r.server_timings?.draft_n, 30);
    assert.equal(r.server_timings?.draft_n_accepted, 20);
    close(r.server_timings?.decode_tps ?? null, 31 / 0.3, 1e-9);
    assert.equal(r.arrival_reads, 11);
  });

  it("speculative bursts seen only through pi's events (no draft counts) are flagged, not believed", () => {
    const arrivals: Arrival[] = [{ at: T0 + 60, read: 0 }];
    for (let step = 1; step <= 10; step++)
      for (let k = 0; k < 3; k++) arrivals.push({ at: T0 + 60 + 30 * step, read: step });
    const r = call(arrivals, { usage: usage(40, 31), stop: "stop", endAt: T0 + 365 });
    assert.ok(r.flags.includes("buffered_stream"));
    assert.equal(r.decode_tps, null, "no server figure to fall back on");
  });

  it("early stop on a stop token: short output flagged, decode over what came", () => {
    const r = call(stream(7, T0 + 25, 12), { usage: usage(30, 7), stop: "stop", endAt: T0 + 98 });
    assert.equal(r.stop_reason, "stop");
    assert.ok(r.flags.includes("short_output"));
    close(r.decode_tps, 6 / 0.072, 1e-9);
  });

  it("tool-call-only answer: the tool name is the first token; name and first arguments read together are one arrival", () => {
    const t = tracker();
    t.start(START, T0);
    t.arrival("tool_call", 4, T0 + 80, 0, { contentIndex: 0, start: true });
    t.arrival("tool_call", 2, T0 + 80.01, 0, { contentIndex: 0, start: false });
    for (let i = 1; i <= 9; i++)
      t.arrival("tool_call", 3, T0 + 80 + 10 * i, i, { contentIndex: 0, start: false });
    const r = t.end(
      { usage: usage(100, 10), stop_reason: "toolUse", error_message: null },
      T0 + 175,
    ) as CallLogRecord;
    assertNoNegativeDuration(r);
    close(r.ttft_ms, 80);
    assert.equal(r.arrivals, 10);
    close(r.decode_tps, 9 / 0.09, 1e-9);
    assert.deepEqual(r.phase_tokens.by_kind, { text: 0, thinking: 0, tool_call: 10 });
    assert.equal(r.stop_reason, "toolUse");
  });

  it("thinking-only answer: reasoning tokens are token-bearing, TTFT from the first of them", () => {
    const r = call(stream(20, T0 + 35, 8, "thinking"), {
      usage: usage(50, 20),
      stop: "stop",
      endAt: T0 + 190,
    });
    close(r.ttft_ms, 35);
    close(r.decode_tps, 19 / 0.152, 1e-9);
    assert.deepEqual(r.phase_tokens.by_kind, { text: 0, thinking: 20, tool_call: 0 });
  });

  it("thinking then text: both count, each kind gets its tokens", () => {
    const arrivals = [
      ...stream(5, T0 + 20, 10, "thinking"),
      ...stream(5, T0 + 70, 10, "text").map((a) => ({ ...a, read: a.read + 5 })),
    ];
    const r = call(arrivals, { usage: usage(50, 10), stop: "stop", endAt: T0 + 125 });
    close(r.ttft_ms, 20);
    close(r.decode_tps, 9 / 0.09, 1e-9);
    assert.deepEqual(r.phase_tokens.by_kind, { text: 5, thinking: 5, tool_call: 0 });
  });

  it("zero output tokens: no TTFT, no rates, nothing negative", () => {
    const r = call([], { usage: usage(50, 0), stop: "stop", endAt: T0 + 40 });
    assert.equal(r.ttft_ms, null);
    assert.equal(r.decode_tps, null);
    assert.equal(r.prefill_tps, null);
    assert.equal(r.output_tokens, 0);
    assert.equal(r.token_source, "usage");
    assert.equal(r.raw_timestamps.first_token, null);
    close(r.e2e_ms, 40);
  });

  it("aborted call: kept with what arrived, an error, and no invented end of generation", () => {
    const r = call(stream(5, T0 + 50, 10), {
      usage: null,
      stop: "aborted",
      endAt: T0 + 97,
      error: "Request was aborted",
    });
    assert.equal(r.stop_reason, "aborted");
    assert.equal(r.error?.code, "REQUEST_STREAM_CUT");
    assert.match(r.error?.message ?? "", /aborted/);
    close(r.ttft_ms, 50);
    close(r.raw_timestamps.last_token ?? null, 90);
    close(r.e2e_ms, 97);
    assert.equal(r.output_tokens, 5);
    assert.equal(r.token_source, "chunks");
    assert.ok(!r.flags.includes("short_output"), "a failed call is not judged short");
  });

  it("a call that failed before any response: connection error, no TTFT", () => {
    const t = tracker();
    t.start(START, T0);
    const r = t.end(
      { usage: usage(0, 0), stop_reason: "error", error_message: "Connection error.\n  ECONNREFUSED" },
      T0 + 3,
    );
    assert.equal(r?.error?.code, "REQUEST_CONNECTION_FAILED");
    assert.equal(r?.error?.message, "Connection error. ECONNREFUSED");
    assert.equal(r?.http_status, null);
    assert.equal(r?.ttft_ms, null);
  });

  it("an HTTP error keeps its status", () => {
    const t = tracker();
    t.start(START, T0);
    t.response(503, T0 + 4);
    const r = t.end({ usage: null, stop_reason: "error", error_message: "503 overloaded" }, T0 + 5);
    assert.equal(r?.error?.code, "REQUEST_HTTP_ERROR");
    assert.equal(r?.error?.status, 503);
  });

  it("missing usage (pi fills zeros): tokens counted as arrivals and flagged, prefill unknown", () => {
    const r = call(stream(12, T0 + 30, 10), { usage: usage(0, 0), stop: "stop", endAt: T0 + 145 });
    assert.equal(r.token_source, "chunks");
    assert.ok(r.flags.includes("chunk_count_estimate"));
    assert.equal(r.output_tokens, 12);
    assert.equal(r.prefill_tps, null);
    assert.equal(r.input_tokens, null);
    close(r.decode_tps, 11 / 0.11, 1e-9);
  });

  it("a buffered stream (every token in one read) is flagged and gets no client decode rate", () => {
    const arrivals = Array.from({ length: 30 }, (_, i) => ({ at: T0 + 300 + i * 0.02, read: 7 }));
    const r = call(arrivals, { usage: usage(30, 30), stop: "stop", endAt: T0 + 301 });
    assert.ok(r.flags.includes("buffered_stream"));
    assert.equal(r.decode_tps, null);
    assert.equal(r.arrival_reads, 1);
  });

  it("a decode rate above the ceiling is flagged impossible and not reported", () => {
    // 8,000 tok/s: the rate a mis-measuring extension reported for a 60 tok/s model.
    const r = call(
      stream(100, T0 + 500, 0.125),
      { usage: usage(30, 100), stop: "stop", endAt: T0 + 520 },
      tracker(5000),
    );
    assert.ok(r.flags.includes("impossible_decode_rate"));
    assert.equal(r.decode_tps, null);
  });

  it("a call that never ends is recorded as unfinished when the next one starts", () => {
    const t = tracker();
    t.start(START, T0);
    t.arrival("text", 3, T0 + 20, 0);
    const dangling = t.start(START, T0 + 500);
    assert.equal(dangling?.stop_reason, "unfinished");
    assert.equal(dangling?.call_index, 0);
    close(dangling?.e2e_ms ?? null, 500);
    assert.equal(t.abandon(T0 + 600)?.call_index, 1);
    assert.equal(t.abandon(T0 + 700), null);
  });

  it("clock readings before the call's start never become negative durations", () => {
    const t = tracker();
    t.start(START, T0);
    t.response(200, T0 - 1);
    const r = t.end(
      { usage: usage(5, 0), stop_reason: "stop", error_message: null },
      T0 - 2,
    ) as CallLogRecord;
    assertNoNegativeDuration(r);
  });

  it("names every call uniquely and dates it on the wall clock", () => {
    const t = tracker();
    const a = call(stream(2, T0 + 10, 5), { usage: usage(5, 2), stop: "stop", endAt: T0 + 20 }, t);
    const b = call(stream(2, T0 + 10, 5), { usage: usage(5, 2), stop: "stop", endAt: T0 + 20 }, t);
    assert.equal(a.call_id, "s:0");
    assert.equal(b.call_id, "s:1");
    assert.equal(a.started_at_ms, 1_700_000_000_000 + T0);
    assert.equal(a.started_at, new Date(1_700_000_000_000 + T0).toISOString());
    assert.equal(a.started_at_mono_ms, 5_000_000 + T0);
    assert.equal(a.schema_version, 1);
  });
});
