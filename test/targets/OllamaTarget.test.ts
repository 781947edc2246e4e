import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { describe, it } from "node:test";
import type { MockServerOptions } from "../../src/mock/MockServer.js";
import { OllamaTarget, type OllamaTargetOptions } from "../../src/targets/ollama/OllamaTarget.js";
import type { WorkloadRequest } from "../../src/targets/Target.js";
import { closeAtEnd, rawServer, startMock } from "./loopbackServers.js";

const request: WorkloadRequest = {
  messages: [{ role: "user", content: "why is the sky blue" }],
  prompt: "why is the sky blue",
  prompt_tokens: 5,
  prompt_tokens_exact: false,
  max_tokens: 6,
  force_output_length: true,
};

/** A mock server and an Ollama target on it, both closed when the tests end. */
async function setup(mockOptions: MockServerOptions, targetOptions: Partial<OllamaTargetOptions> = {}) {
  const { mock, sent } = await startMock(mockOptions);
  const target = closeAtEnd(new OllamaTarget({ baseUrl: mock.url, model: "llama3.2", ...targetOptions }));
  return { mock, target, sent };
}

describe("OllamaTarget against the mock's Ollama API", () => {
  it("streams /api/chat NDJSON and turns Ollama's nanosecond durations into server timings", async () => {
    const { target, sent } = await setup({ ttftMs: 15, itlMs: 4 });
    const body = target.buildBody(request);
    assert.deepEqual(body.options, { num_predict: 6 });
    assert.equal(body.stream, true);
    const obs = await target.send(request, { planned_at_ms: performance.now() });
    assert.equal(obs.error, null);
    assert.equal(obs.status, 200);
    assert.equal(obs.chunks.length, 6);
    assert.deepEqual(
      obs.chunks.map((c) => c.chars),
      Array(6).fill(4),
    );
    assert.equal(obs.empty_chunks, 1, "the final done object carries no text");
    assert.deepEqual(obs.usage, { prompt_tokens: 5, completion_tokens: 6, cached_prompt_tokens: null });
    assert.deepEqual(obs.server_timings, {
      source: "ollama",
      prompt_tokens: 5,
      prompt_ms: 15,
      output_tokens: 6,
      decode_ms: 24,
      cached_tokens: null,
      load_ms: 0,
    });
    for (const [i, chunk] of obs.chunks.entries()) {
      const error = chunk.at_ms - (sent.get(0)?.[i] ?? Number.NaN);
      assert.ok(error >= 0, `chunk ${i} measured ${error} ms before it was sent`);
    }
    assert.equal(await target.countTokens("x"), null);
    await target.assertReachable();
  });

  it("streams /api/generate, with thinking tokens counted as generated text", async () => {
    const { mock } = await setup({ reasoningTokens: 2, itlMs: 1 });
    const generate = closeAtEnd(
      new OllamaTarget({ baseUrl: `${mock.url}/api`, model: "m", api: "generate" }),
    );
    assert.equal(generate.buildBody(request).prompt, "why is the sky blue");
    const obs = await generate.send({ ...request, max_tokens: 4 }, { planned_at_ms: performance.now() });
    assert.equal(obs.error, null);
    assert.deepEqual(
      obs.chunks.map((c) => c.chars),
      [6, 6, 4, 4],
    );
  });

  it("reports HTTP errors, cut streams and error objects as data", async () => {
    const failing = await setup({ errorRate: 1 });
    const http500 = await failing.target.send(request, { planned_at_ms: performance.now() });
    assert.equal(http500.error?.code, "REQUEST_HTTP_ERROR");
    assert.equal(http500.status, 500);

    const cutting = await setup({ cutRate: 1, itlMs: 1 });
    const cut = await cutting.target.send(
      { ...request, max_tokens: 8 },
      { planned_at_ms: performance.now() },
    );
    assert.equal(cut.error?.code, "REQUEST_STREAM_CUT");
    assert.equal(cut.chunks.length, 4);

    const url = await rawServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/x-ndjson" });
      res.end(
        `${JSON.stringify({ message: { content: "hi" }, done: false })}\n{"error":"model runner crashed"}\n`,
      );
    });
    const target = closeAtEnd(new OllamaTarget({ baseUrl: url, model: "m" }));
    const event = await target.send(request, { planned_at_ms: performance.now() });
    assert.equal(event.error?.code, "REQUEST_SERVER_ERROR_EVENT");
    assert.match(event.error?.message ?? "", /model runner crashed/);
    assert.equal(event.chunks.length, 1);
  });
});
