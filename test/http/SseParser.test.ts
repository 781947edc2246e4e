import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type SseEvent, SseParser } from "../../src/http/SseParser.js";

interface Parsed {
  events: SseEvent[];
  comments: string[];
  retries: number[];
}

function parse(parts: readonly Buffer[], end = true): Parsed {
  const out: Parsed = { events: [], comments: [], retries: [] };
  const parser = new SseParser({
    onEvent: (event) => out.events.push(event),
    onComment: (text) => out.comments.push(text),
    onRetry: (ms) => out.retries.push(ms),
  });
  for (const part of parts) parser.push(part);
  if (end) parser.end();
  return out;
}

/** A stream exercising multi-byte characters, every field, comments and a multi-line event. */
const SAMPLE = [
  "\uFEFF: hello comment\r\n",
  'data: {"text":"héllo 世界 🎉"}\r\n\r\n',
  "event: update\rid: 7\rdata: line one\rdata: line two\r\r",
  "retry: 1500\n",
  ":\n",
  "data:no-space\n\n",
  "data\n\n",
  "id: 8\nunknown: x\ndata: [DONE]\n\n",
].join("");

const EXPECTED: SseEvent[] = [
  { data: '{"text":"héllo 世界 🎉"}', event: "message", id: "" },
  { data: "line one\nline two", event: "update", id: "7" },
  { data: "no-space", event: "message", id: "7" },
  { data: "", event: "message", id: "7" },
  { data: "[DONE]", event: "message", id: "8" },
];

describe("SseParser", () => {
  it("parses a whole stream: BOM, CR/LF/CRLF line ends, fields, comments, multi-line data", () => {
    const out = parse([Buffer.from(SAMPLE, "utf8")]);
    assert.deepEqual(out.events, EXPECTED);
    assert.deepEqual(out.comments, [" hello comment", ""]);
    assert.deepEqual(out.retries, [1500]);
  });

  it("gives the same result for every split position, and for every pair of split positions", () => {
    const bytes = Buffer.from(SAMPLE, "utf8");
    for (let i = 0; i <= bytes.length; i++) {
      const out = parse([bytes.subarray(0, i), bytes.subarray(i)]);
      assert.deepEqual(out.events, EXPECTED, `split at byte ${i}`);
      assert.equal(out.comments.length, 2, `split at byte ${i}`);
    }
    for (let i = 0; i <= bytes.length; i += 3) {
      for (let j = i; j <= bytes.length; j += 2) {
        const out = parse([bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)]);
        assert.deepEqual(out.events, EXPECTED, `split at bytes ${i} and ${j}`);
      }
    }
  });

  it("parses byte by byte (every multi-byte character and every CRLF split)", () => {
    const bytes = Buffer.from(SAMPLE, "utf8");
    const parts = Array.from(bytes, (b) => Buffer.from([b]));
    const out = parse(parts);
    assert.deepEqual(out.events, EXPECTED);
    assert.deepEqual(out.comments, [" hello comment", ""]);
  });

  it("does not mistake a CR at the end of one push followed by LF for two line ends", () => {
    const out = parse([Buffer.from("data: a\r"), Buffer.from("\ndata: b\r"), Buffer.from("\n\r\n")]);
    assert.deepEqual(
      out.events.map((e) => e.data),
      ["a\nb"],
    );
  });

  it("fires each event from the push that completes it", () => {
    const seen: string[] = [];
    const parser = new SseParser({ onEvent: (event) => seen.push(event.data) });
    parser.push(Buffer.from("data: one\n"));
    assert.deepEqual(seen, []);
    parser.push(Buffer.from("\ndata: tw"));
    assert.deepEqual(seen, ["one"]);
    parser.push(Buffer.from("o\n\n"));
    assert.deepEqual(seen, ["one", "two"]);
    assert.equal(parser.events, 2);
  });

  it("dispatches a last event that lacks its blank line (or even its newline) at end()", () => {
    assert.deepEqual(
      parse([Buffer.from("data: x\n\ndata: [DONE]\n")]).events.map((e) => e.data),
      ["x", "[DONE]"],
    );
    assert.deepEqual(
      parse([Buffer.from("data: x\n\ndata: [DONE]")]).events.map((e) => e.data),
      ["x", "[DONE]"],
    );
    assert.deepEqual(
      parse([Buffer.from("data: x\n\ndata: partial")], false).events.map((e) => e.data),
      ["x"],
    );
  });

  it("ignores an event with no data and resets its type", () => {
    const out = parse([Buffer.from("event: ping\n\ndata: y\n\n")]);
    assert.deepEqual(out.events, [{ data: "y", event: "message", id: "" }]);
  });

  it("counts comments and ignores invalid retry values", () => {
    const parser = new SseParser({ onEvent: () => {} });
    parser.push(Buffer.from(": keep-alive\n\n: keep-alive\n\nretry: 12x\n\n"));
    parser.end();
    assert.equal(parser.comments, 2);
    assert.equal(parser.events, 0);
  });

  it("strips a BOM only at the very start, even split over pushes", () => {
    const out = parse([
      Buffer.from([0xef]),
      Buffer.from([0xbb]),
      Buffer.from([0xbf, 0x64]),
      Buffer.from("ata: z\n\n"),
    ]);
    assert.deepEqual(
      out.events.map((e) => e.data),
      ["z"],
    );
    const mid = parse([Buffer.from("data: a\n\n\uFEFFdata: b\n\n")]);
    assert.deepEqual(
      mid.events.map((e) => e.data),
      ["a"],
      "a BOM later in the stream makes an unknown field name, so that line is ignored",
    );
  });

  it("stop() discards everything after it", () => {
    const seen: string[] = [];
    const parser = new SseParser({
      onEvent: (event) => {
        seen.push(event.data);
        if (event.data === "[DONE]") parser.stop();
      },
    });
    parser.push(Buffer.from("data: a\n\ndata: [DONE]\n\ndata: after\n\n"));
    parser.end();
    assert.deepEqual(seen, ["a", "[DONE]"]);
  });

  it("keeps a large event split over many pushes intact", () => {
    const payload = "é".repeat(100_000);
    const bytes = Buffer.from(`data: ${payload}\n\n`, "utf8");
    const parts: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 4093) parts.push(bytes.subarray(i, i + 4093));
    const out = parse(parts);
    assert.equal(out.events.length, 1);
    assert.equal(out.events[0]?.data, payload);
  });
});
