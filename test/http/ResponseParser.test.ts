import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ResponseHead, ResponseParseError, ResponseParser } from "../../src/http/ResponseParser.js";

interface Parsed {
  head: ResponseHead | null;
  body: string;
  pieces: number;
  complete: boolean;
  used: number;
}

/** Feeds `raw` split at the given offsets and collects what the parser reported. */
function parse(raw: string, splits: number[] = [], method = "POST", end = false): Parsed {
  const out: Parsed = { head: null, body: "", pieces: 0, complete: false, used: 0 };
  const parser = new ResponseParser(
    {
      onHead: (head) => {
        out.head = head;
      },
      onBody: (piece) => {
        out.body += piece.toString("latin1");
        out.pieces++;
      },
      onComplete: () => {
        out.complete = true;
      },
    },
    method,
  );
  const bytes = Buffer.from(raw, "latin1");
  let from = 0;
  for (const at of [...splits, bytes.length]) {
    out.used += parser.execute(bytes.subarray(from, at));
    from = at;
  }
  if (end) parser.finish();
  return out;
}

const CHUNKED =
  "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
  "6\r\ndata: \r\n" +
  "1A;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n" +
  "0\r\nX-Trailer: yes\r\n\r\n";

describe("ResponseParser", () => {
  it("decodes a chunked body with extensions and trailers, split at every byte offset", () => {
    for (let a = 0; a <= CHUNKED.length; a++) {
      for (const b of [a, Math.min(CHUNKED.length, a + 1), Math.min(CHUNKED.length, a + 7)]) {
        const out = parse(CHUNKED, [a, b]);
        assert.equal(out.body, "data: abcdefghijklmnopqrstuvwxyz", `split at ${a},${b}`);
        assert.equal(out.complete, true);
        assert.equal(out.used, CHUNKED.length);
        assert.equal(out.head?.status, 200);
        assert.equal(out.head?.headers.get("content-type"), "text/event-stream");
        assert.equal(out.head?.keepAlive, true);
      }
    }
  });

  it("frames by content-length, and reports the bytes after the body as not its own", () => {
    const raw = "HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhelloEXTRA";
    const out = parse(raw, [30]);
    assert.equal(out.body, "hello");
    assert.equal(out.complete, true);
    assert.equal(out.used, raw.length - "EXTRA".length);
  });

  it("reads a body without length to the end of the connection, never reusing it", () => {
    const raw = 'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"a":1}';
    const open = parse(raw);
    assert.equal(open.complete, false);
    assert.equal(open.head?.keepAlive, false);
    const closed = parse(raw, [], "POST", true);
    assert.equal(closed.complete, true);
    assert.equal(closed.body, '{"a":1}');
  });

  it("skips 1xx interim responses and knows bodiless responses", () => {
    const out = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    assert.equal(out.head?.status, 204);
    assert.equal(out.head?.keepAlive, false);
    assert.equal(out.complete, true);
    const head = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", [], "HEAD");
    assert.equal(head.complete, true);
    assert.equal(head.body, "");
  });

  it("accepts bare LF line ends and joins repeated headers", () => {
    const out = parse("HTTP/1.1 200 OK\nX-A: 1\nx-a: 2\nContent-Length: 2\n\nok");
    assert.equal(out.head?.headers.get("x-a"), "1, 2");
    assert.equal(out.body, "ok");
  });

  it("rejects malformed responses with a ResponseParseError", () => {
    for (const raw of [
      "SSH-2.0-OpenSSH\r\n\r\n",
      "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
      "HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
    ]) {
      assert.throws(() => parse(raw), ResponseParseError, JSON.stringify(raw));
    }
  });

  it("reports a body cut by the end of the connection", () => {
    assert.throws(
      () => parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", [], "POST", true),
      /connection closed before the end of the body/,
    );
    assert.throws(() => parse("HTTP/1.1 200 O", [], "POST", true), /connection closed before a response/);
  });
});
