import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import { MockServer, type MockServerOptions } from "../../src/mock/MockServer.js";
import { countMockTokens } from "../../src/mock/mockTokenizer.js";

const open: MockServer[] = [];
after(async () => {
  for (const server of open) await server.close();
});

async function start(options: MockServerOptions = {}): Promise<{ mock: MockServer; url: string }> {
  const mock = new MockServer(options);
  open.push(mock);
  return { mock, url: await mock.start() };
}

async function chat(url: string, body: Record<string, unknown>): Promise<{ status: number; text: string }> {
  const res = await fetch(`${url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: "m",
      messages: [{ role: "user", content: "hi there" }],
      stream: true,
      ...body,
    }),
  });
  return { status: res.status, text: await res.text() };
}

function dataEvents(text: string): unknown[] {
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice(6))
    .map((d) => (d === "[DONE]" ? d : JSON.parse(d)));
}

describe("countMockTokens", () => {
  it("counts runs of non-whitespace", () => {
    assert.equal(countMockTokens(""), 0);
    assert.equal(countMockTokens("  "), 0);
    assert.equal(countMockTokens(" tok tok tok"), 3);
    assert.equal(countMockTokens("a\tb\nc  d "), 4);
  });
});

describe("MockServer", () => {
  it("streams role chunk, tokens, finish, usage and [DONE] in OpenAI's format", async () => {
    const { url } = await start({ ttftMs: 1, itlMs: 1, tokensPerChunk: 2 });
    const { status, text } = await chat(url, { max_tokens: 5, stream_options: { include_usage: true } });
    assert.equal(status, 200);
    const events = dataEvents(text) as Record<string, unknown>[];
    assert.equal(events.length, 1 + 3 + 1 + 1);
    assert.deepEqual((events[0] as { choices: unknown[] }).choices, [
      { index: 0, delta: { role: "assistant", content: null }, finish_reason: null },
    ]);
    const contents = events
      .slice(1, 4)
      .map((e) => (e as { choices: { delta: { content: string } }[] }).choices[0]?.delta.content);
    assert.deepEqual(contents, [" tok tok", " tok tok", " tok"]);
    assert.equal((events[3] as { choices: { finish_reason: string }[] }).choices[0]?.finish_reason, "length");
    assert.deepEqual((events[4] as { usage: unknown }).usage, {
      prompt_tokens: 2,
      completion_tokens: 5,
      total_tokens: 7,
      prompt_tokens_details: { cached_tokens: 0 },
    });
    assert.equal(events[5], "[DONE]");
  });

  it("sends usage only when asked and allowed", async () => {
    const { url } = await start({ ttftMs: 0, itlMs: 0 });
    const withoutAsking = dataEvents((await chat(url, { max_tokens: 2 })).text);
    assert.ok(withoutAsking.every((e) => e === "[DONE]" || (e as { usage?: unknown }).usage === undefined));
    const { url: noUsage } = await start({ ttftMs: 0, itlMs: 0, usage: false });
    const denied = dataEvents(
      (await chat(noUsage, { max_tokens: 2, stream_options: { include_usage: true } })).text,
    );
    assert.ok(denied.every((e) => e === "[DONE]" || (e as { usage?: unknown }).usage === undefined));
  });

  it("emits chunks on absolute deadlines: TTFT then one chunk every tokensPerChunk × itl", async () => {
    let times: number[] = [];
    let received = 0;
    const { url } = await start({
      ttftMs: 30,
      itlMs: 5,
      tokensPerChunk: 2,
      onRequest: (info) => {
        received = info.received_at_ms;
      },
      onChunkSent: (_id, _chunk, _tokens, at) => times.push(at),
    });
    await chat(url, { max_tokens: 1 }); // warm up the client and the JIT
    // Best of three runs: a preempted process is late whatever its scheduler does.
    const medians: number[] = [];
    for (let run = 0; run < 3 && !medians.some((m) => m < 1); run++) {
      times = [];
      await chat(url, { max_tokens: 20 });
      assert.equal(times.length, 10);
      const lateness = times.map((at, j) => at - (received + 30 + j * 10));
      assert.ok(
        lateness.every((late) => late >= 0),
        `never early: ${lateness.map((l) => l.toFixed(2))}`,
      );
      medians.push([...lateness].sort((a, b) => a - b)[5] ?? Number.NaN);
    }
    // Lateness must not build up from chunk to chunk (absolute deadlines, no setTimeout drift): on a
    // quiet machine the median is well under 1 ms; the bound leaves room for a heavily loaded one.
    assert.ok(Math.min(...medians) < 8, `median lateness per run (ms): ${medians.map((m) => m.toFixed(3))}`);
  });

  it("stops early without ignore_eos when stopAfter is set, and honours min_tokens", async () => {
    const { url } = await start({ ttftMs: 0, itlMs: 0, stopAfter: 3 });
    const tokens = (text: string) =>
      countMockTokens(
        text
          .replace(/data: |"[a-z_]+"|[{}[\]:,]/g, " ")
          .replace(/\S*tok\S*/g, "tok")
          .split(/\s+/)
          .filter((w) => w === "tok")
          .join(" "),
      );
    assert.equal(tokens((await chat(url, { max_tokens: 6 })).text), 3);
    assert.equal(tokens((await chat(url, { max_tokens: 6, ignore_eos: true })).text), 6);
    assert.equal(tokens((await chat(url, { max_tokens: 6, min_tokens: 6 })).text), 6);
  });

  it("fails and cuts a seeded, reproducible fraction of requests", async () => {
    const pattern = async (seed: number) => {
      const failed: boolean[] = [];
      const { url } = await start({
        ttftMs: 0,
        itlMs: 0,
        errorRate: 0.3,
        seed,
        onRequest: (i) => failed.push(i.fails),
      });
      for (let i = 0; i < 40; i++) await chat(url, { max_tokens: 1 });
      return failed;
    };
    const a = await pattern(7);
    const b = await pattern(7);
    const c = await pattern(8);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    const share = a.filter(Boolean).length / a.length;
    assert.ok(share > 0.1 && share < 0.5, `failed share ${share}`);
  });

  it("serves /v1/models, /tokenize, 404s and the API key check", async () => {
    const { url, mock } = await start({ model: "tiny", apiKey: "k-123456" });
    const models = await fetch(`${url}/models`, { headers: { authorization: "Bearer k-123456" } });
    assert.deepEqual(
      ((await models.json()) as { data: { id: string }[] }).data.map((m) => m.id),
      ["tiny"],
    );
    const tokenize = await fetch(`${mock.url}/tokenize`, {
      method: "POST",
      headers: { authorization: "Bearer k-123456" },
      body: JSON.stringify({ content: "a b c" }),
    });
    assert.deepEqual(await tokenize.json(), { tokens: [1, 2, 3] });
    const unauthorized = await fetch(`${url}/models`, { headers: { authorization: "Bearer wrong" } });
    assert.equal(unauthorized.status, 401);
    assert.match(await unauthorized.text(), /Bearer wrong/);
    const missing = await fetch(`${mock.url}/nope`, {
      method: "POST",
      headers: { authorization: "Bearer k-123456" },
    });
    assert.equal(missing.status, 404);
  });

  it("serves Ollama's /api/chat as NDJSON with a final done object", async () => {
    const { mock } = await start({ ttftMs: 2, itlMs: 1 });
    const res = await fetch(`${mock.url}/api/chat`, {
      method: "POST",
      body: JSON.stringify({
        model: "m",
        messages: [{ role: "user", content: "a b c" }],
        options: { num_predict: 3 },
      }),
    });
    assert.equal(res.headers.get("content-type"), "application/x-ndjson");
    const lines = (await res.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 4);
    const final = lines[3] as Record<string, unknown>;
    assert.equal(final.done, true);
    assert.equal(final.eval_count, 3);
    assert.equal(final.prompt_eval_count, 3);
    assert.equal(final.prompt_eval_duration, 2_000_000);
    assert.equal(final.eval_duration, 3_000_000);
  });

  it("answers stream:false with one JSON completion", async () => {
    const { url } = await start({ ttftMs: 1, itlMs: 1 });
    const { status, text } = await chat(url, { stream: false, max_tokens: 3 });
    assert.equal(status, 200);
    const body = JSON.parse(text) as {
      choices: { message: { content: string } }[];
      usage: { completion_tokens: number };
    };
    assert.equal(body.choices[0]?.message.content, " tok tok tok");
    assert.equal(body.usage.completion_tokens, 3);
  });

  it("serves 1,000 concurrent streams side by side, not one after the other", async () => {
    const { url, mock } = await start({ ttftMs: 50, itlMs: 20 });
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 1000 }, () => chat(url, { max_tokens: 4 })));
    const elapsed = performance.now() - started;
    assert.ok(results.every((r) => r.status === 200 && r.text.endsWith("data: [DONE]\n\n")));
    assert.equal(mock.stats.chunks, 4000);
    assert.equal(mock.stats.active, 0);
    // Serialised, 1,000 streams of 110 ms would take 110 s; side by side they take a few seconds at most.
    assert.ok(elapsed < 20_000, `1,000 streams of 110 ms took ${elapsed.toFixed(0)} ms`);
  });
});
