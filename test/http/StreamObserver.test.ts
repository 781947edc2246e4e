import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StreamObserver } from "../../src/http/StreamObserver.js";
import type { HttpStreamResult } from "../../src/http/streamHttp.js";

const WHERE = "POST http://127.0.0.1:9/v1/chat/completions";

function result(overrides: Partial<HttpStreamResult> = {}): HttpStreamResult {
  return {
    sent_at_ms: 10,
    headers_at_ms: 20,
    status: 200,
    content_type: "text/event-stream",
    end_at_ms: 90,
    outcome: "complete",
    error_body: null,
    detail: null,
    retry_after: null,
    ...overrides,
  };
}

const findings = { planned_at_ms: 5, prompt_tokens_client: 7, comments: 2, output_tokens_tokenizer: null };

/** A sink that turns every byte of a read into one parsed piece reported to `stream`. */
function lettersSink(stream: StreamObserver) {
  return {
    push(chunk: Buffer) {
      for (const letter of chunk.toString()) {
        if (letter === "!") stream.end();
        else stream.generated(letter === "_" ? 0 : 1, null);
      }
    },
  };
}

describe("StreamObserver", () => {
  it("keeps every chunk of a long stream, in order, past its initial room", () => {
    const stream = new StreamObserver(WHERE, []);
    const sink = { push: () => stream.generated(2, null) };
    for (let i = 0; i < 200; i++) stream.feed(sink, Buffer.from("x"), 100 + i * 0.25, i);
    assert.equal(stream.chunks, 200);
    const obs = stream.observation(result({ end_at_ms: 200 }), findings);
    assert.equal(obs.chunks.length, 200);
    obs.chunks.forEach((c, i) => {
      assert.deepEqual(c, { at_ms: 100 + i * 0.25, read_index: i, tokens: null, chars: 2 });
    });
  });

  it("stamps each chunk with the read that completed it, counts empty pieces, ends at the end marker", () => {
    const stream = new StreamObserver(WHERE, []);
    const sink = lettersSink(stream);
    assert.equal(stream.feed(sink, Buffer.from("_a"), 30, 0), true);
    assert.equal(stream.feed(sink, Buffer.from("bc"), 41.5, 1), true);
    stream.generated(0, 3);
    assert.equal(stream.feed(sink, Buffer.from("_!"), 60, 2), true);
    assert.equal(stream.open, false);
    stream.settle(result({ outcome: "cut", detail: "socket hang up" }), "[DONE]");
    const obs = stream.observation(result({ end_at_ms: 99 }), findings);
    assert.deepEqual(obs.chunks, [
      { at_ms: 30, read_index: 0, tokens: null, chars: 1 },
      { at_ms: 41.5, read_index: 1, tokens: null, chars: 1 },
      { at_ms: 41.5, read_index: 1, tokens: null, chars: 1 },
      { at_ms: 41.5, read_index: 1, tokens: 3, chars: 0 },
    ]);
    assert.equal(obs.empty_chunks, 2);
    assert.equal(obs.end_at_ms, 60, "the end marker's read, not the socket's end");
    assert.equal(obs.error, null, "a stream that ended explicitly is not cut by what follows");
    assert.deepEqual(
      [obs.planned_at_ms, obs.sent_at_ms, obs.headers_at_ms, obs.prompt_tokens_client, obs.comments],
      [5, 10, 20, 7, 2],
    );
  });

  it("malformed JSON is an error quoting the redacted piece, and stops the reading", () => {
    const stream = new StreamObserver(WHERE, ["sk-secret-key"]);
    assert.equal(stream.parseJson('{"ok":1}') !== undefined, true);
    assert.equal(stream.parseJson("{oops sk-secret-key"), undefined);
    assert.equal(stream.error?.code, "REQUEST_MALFORMED_JSON");
    assert.equal(stream.error?.message, `malformed JSON in the stream from ${WHERE}: {oops ***`);
    assert.equal(stream.feed({ push() {} }, Buffer.from("x"), 1, 0), false);
    stream.settle(result(), "[DONE]");
    assert.equal(stream.error?.code, "REQUEST_MALFORMED_JSON", "the first error stays");
  });

  it("a stream without its end is cut, unless finished; a transport failure wins", () => {
    const cut = new StreamObserver(WHERE, []);
    cut.settle(result(), "[DONE] or a finish_reason");
    assert.deepEqual(cut.error, {
      code: "REQUEST_STREAM_CUT",
      message: `stream from ${WHERE} ended before [DONE] or a finish_reason`,
      status: 200,
    });
    const finished = new StreamObserver(WHERE, []);
    finished.settle(result(), "[DONE]", true);
    assert.equal(finished.error, null);
    const timedOut = new StreamObserver(WHERE, []);
    timedOut.settle(
      result({ outcome: "timeout", detail: "no complete response within 5 ms" }),
      "[DONE]",
      true,
    );
    assert.equal(timedOut.error?.code, "REQUEST_TIMEOUT");
    const serverError = new StreamObserver(WHERE, ["sk-secret-key"]);
    serverError.serverError("bad key sk-secret-key");
    assert.equal(serverError.error?.message, `${WHERE} sent an error in the stream: bad key ***`);
  });
});
