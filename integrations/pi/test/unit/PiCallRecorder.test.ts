import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, stat } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { CallLogRecord } from "../../src/record/CallLogRecord.js";
import { PiCallRecorder, withUsageRequested } from "../../src/record/PiCallRecorder.js";
import { ReadClock } from "../../src/record/ReadClock.js";
import { sessionReport, statusText } from "../../src/record/sessionReport.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tokbench-pi-"));
  dirs.push(dir);
  return dir;
}

const MODEL = { provider: "local", id: "qwen", api: "openai-completions" };

/** A read clock the test moves by hand. */
function manualReads(): { current(): number; next(): void } {
  let n = 0;
  return { current: () => n, next: () => void n++ };
}

describe("PiCallRecorder: pi's event shapes in, a log line per call out", () => {
  it("maps pi's stream events to arrivals and writes one NDJSON line per call", () => {
    const cwd = tempDir();
    const reads = manualReads();
    const seen: CallLogRecord[] = [];
    const r = new PiCallRecorder({ sessionId: "abc", cwd, readClock: reads, onRecord: (x) => seen.push(x) });
    const content = [{ type: "thinking" }, { type: "toolCall", name: "read" }];
    r.beforeProviderRequest({ model: "qwen-7b", max_completion_tokens: 64, messages: [] }, MODEL, 100);
    r.afterProviderResponse(200, 110);
    r.messageUpdate({ type: "thinking_start", contentIndex: 0, partial: { content } }, 120);
    r.messageUpdate({ type: "thinking_delta", contentIndex: 0, delta: "", partial: { content } }, 120);
    r.messageUpdate({ type: "thinking_delta", contentIndex: 0, delta: "Let", partial: { content } }, 130);
    reads.next();
    r.messageUpdate({ type: "thinking_end", contentIndex: 0, partial: { content } }, 140);
    // The tool call's name and first arguments come in one read: one arrival.
    r.messageUpdate({ type: "toolcall_start", contentIndex: 1, partial: { content } }, 140);
    r.messageUpdate({ type: "toolcall_delta", contentIndex: 1, delta: '{"pa', partial: { content } }, 140.01);
    reads.next();
    r.messageUpdate(
      { type: "toolcall_delta", contentIndex: 1, delta: 'th":"x"}', partial: { content } },
      150,
    );
    r.messageEnd({ role: "user" }, 155);
    r.messageEnd(
      {
        role: "assistant",
        usage: { input: 90, output: 4, cacheRead: 10, cacheWrite: 0 },
        stopReason: "toolUse",
      },
      160,
    );
    assert.equal(seen.length, 1);
    const rec = seen[0] as CallLogRecord;
    assert.equal(rec.model, "qwen-7b", "the payload's model name wins");
    assert.equal(rec.provider, "local");
    assert.equal(rec.max_tokens, 64);
    assert.equal(rec.arrivals, 3);
    assert.equal(rec.ttft_ms, 30);
    assert.equal(rec.input_tokens, 90);
    assert.equal(rec.cached_tokens, 10);
    assert.equal(rec.stop_reason, "toolUse");
    const lines = readFileSync(join(cwd, ".pi", "llm-metrics.log"), "utf8").split("\n");
    assert.equal(lines.length, 2);
    assert.equal(lines[1], "");
    assert.deepEqual(JSON.parse(lines[0] as string), rec);
  });

  it("ignores events outside a call and keeps the log off when there is no working directory", () => {
    const r = new PiCallRecorder({ sessionId: "abc", cwd: null, readClock: manualReads() });
    r.messageUpdate({ type: "text_delta", contentIndex: 0, delta: "x" }, 5);
    r.messageEnd({ role: "assistant", stopReason: "stop" }, 6);
    assert.equal(r.records.length, 0);
    assert.equal(r.log, null);
    r.beforeProviderRequest({}, undefined, 10);
    r.abandon(20);
    assert.equal(r.records[0]?.stop_reason, "unfinished");
    assert.equal(r.records[0]?.model, null);
  });

  it("a log that cannot be written is reported and the record kept", () => {
    const cwd = tempDir();
    const errors: string[] = [];
    // A file where the .pi directory should be.
    const r = new PiCallRecorder({
      sessionId: "abc",
      cwd: join(cwd, "missing", "\0bad"),
      readClock: manualReads(),
      onLogError: (_e, path) => errors.push(path),
    });
    r.beforeProviderRequest({}, MODEL, 0);
    r.messageEnd({ role: "assistant", stopReason: "stop" }, 1);
    assert.equal(errors.length, 1);
    assert.equal(r.records.length, 1);
  });

  it("asks for the usage chunk only in OpenAI chat streams that lack it", () => {
    const payload = { model: "m", messages: [], stream: true, stream_options: { foo: 1 } };
    assert.deepEqual(withUsageRequested(payload), {
      ...payload,
      stream_options: { foo: 1, include_usage: true },
    });
    assert.equal(withUsageRequested({ ...payload, stream_options: { include_usage: true } }), undefined);
    assert.equal(withUsageRequested({ model: "m", messages: [], stream: false }), undefined);
    assert.equal(withUsageRequested({ model: "claude", system: "x", stream: true }), undefined);
    assert.equal(withUsageRequested(null), undefined);
  });
});

describe("ReadClock", () => {
  it("gives one number to the events of one event-loop turn and a new one to the next", async () => {
    const clock = new ReadClock();
    const a = clock.current();
    await Promise.resolve();
    assert.equal(clock.current(), a, "a promise callback is the same turn");
    await new Promise((resolve) => setImmediate(resolve));
    const b = clock.current();
    assert.equal(b, a + 1);
    // Socket reads run in the poll phase, and a check phase (the advance) always separates two
    // poll phases: two I/O callbacks in different loop iterations get different numbers. A read
    // made in a check phase (b) may share its number with the next poll phase's, as may a timer's.
    const inPoll = (): Promise<number> => new Promise((resolve) => stat(".", () => resolve(clock.current())));
    const c = await inPoll();
    const d = await inPoll();
    assert.ok(c >= b && d > c, `turns ${b}, ${c}, ${d}`);
  });
});

describe("status line and /llm-metrics", () => {
  const base = (i: number, over: Partial<CallLogRecord> = {}): CallLogRecord =>
    ({
      call_index: i,
      model: "qwen",
      ttft_ms: 100 + 10 * i,
      decode_tps: 50 + i,
      decode_tps_source: "client",
      prefill_tps: 1000,
      e2e_ms: 2000,
      input_tokens: 300,
      output_tokens: 40,
      flags: ["short_output"],
      error: null,
      ...over,
    }) as CallLogRecord;

  it("the status line shows TTFT and decode rate, and warning flags only", () => {
    assert.equal(statusText(base(0)), "TTFT 100 ms · 50.0 tok/s");
    assert.equal(
      statusText(base(1, { decode_tps: null, flags: ["buffered_stream", "short_output"] })),
      "TTFT 110 ms · - tok/s · ! buffered_stream",
    );
    assert.equal(
      statusText(
        base(2, { output_tokens: 0, error: { code: "REQUEST_HTTP_ERROR", message: "x", status: 500 } }),
      ),
      "LLM call failed (REQUEST_HTTP_ERROR)",
    );
  });

  it("the report gives p50 over the successful calls, p95 only from 20 calls on, then the calls", () => {
    const records = [
      base(0),
      base(1),
      base(2),
      base(3, { output_tokens: 0, error: { code: "REQUEST_STREAM_CUT", message: "", status: null } }),
    ];
    const lines = sessionReport(records);
    assert.equal(lines[0], "LLM calls this session: 4 (1 failed)");
    assert.match(lines[2] ?? "", /^TTFT +3 +110 ms +-$/);
    assert.match(lines[3] ?? "", /^decode +3 +51\.0 tok\/s +-$/);
    assert.equal(lines.at(-1), "#3 qwen: failed REQUEST_STREAM_CUT");
    const many = sessionReport(Array.from({ length: 25 }, (_, i) => base(i)));
    assert.match(many[2] ?? "", /^TTFT +25 +220 ms +330 ms$/);
    assert.ok(many.includes("Last 20 calls:"));
    assert.deepEqual(sessionReport([]), ["No LLM calls measured in this session yet."]);
  });
});
