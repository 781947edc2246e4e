import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RequestRecord } from "../../src/results/RequestRecord.js";
import type { RunResult } from "../../src/results/RunResult.js";
import { rawServer, type SseCompletionScript, sendSseCompletion } from "../targets/loopbackServers.js";
import { benchArgs, runCli } from "./runCli.js";

/** Every stream is 4 single-token chunks (" w0" ... " w3") 10 ms apart: the true output is 4 tokens. */
const TRUE_OUTPUT = 4;
const GOOD_TIMINGS = { prompt_n: 9, prompt_ms: 1, predicted_n: 4, predicted_ms: 9, cache_n: 0 };

/** What the server reports, request by request, and the flag tokbench must raise. */
const CASES: [SseCompletionScript, string | null][] = [
  [{ usage: { prompt_tokens: 9, completion_tokens: 1e12 } }, "usage_implausible"],
  [{ usage: { prompt_tokens: 9, completion_tokens: -3 } }, "usage_implausible"],
  [{ usage: { prompt_tokens: 9, completion_tokens: 2.5 } }, "usage_implausible"],
  [{ usage: '{"prompt_tokens":9,"completion_tokens":1e999}' }, "usage_implausible"],
  [{ usage: { prompt_tokens: 9, completion_tokens: "4" } }, "usage_implausible"],
  [{ usage: { prompt_tokens: -5, completion_tokens: 4 } }, "usage_implausible"],
  [{ usage: { prompt_tokens: 1e12, completion_tokens: 4 } }, "usage_implausible"],
  [{ usage: { prompt_tokens: 9, completion_tokens: 4 } }, null],
  [{ timings: { ...GOOD_TIMINGS, predicted_ms: -70 } }, "timings_implausible"],
  [{ timings: { ...GOOD_TIMINGS, predicted_ms: 1e-9 } }, "timings_implausible"],
  [{ timings: { ...GOOD_TIMINGS, prompt_ms: 1e9 } }, "timings_implausible"],
  [{ timings: { ...GOOD_TIMINGS, prompt_n: -5 } }, "timings_implausible"],
  [{ timings: GOOD_TIMINGS }, null],
];

describe("impossible server-reported usage and timings (a real server on loopback)", () => {
  it("are flagged and not used: the next token source counts, and no rate is negative or absurd", async () => {
    let generation = 0;
    const root = await rawServer((req, res, body) => {
      if (req.method === "GET") {
        res.writeHead(200, { "content-type": "application/json" }).end('{"data":[]}');
        return;
      }
      if (req.url === "/tokenize") {
        // llama.cpp's answer: one token per word, the ground truth of the streamed text.
        const text = (JSON.parse(body) as { content: string }).content;
        const words = text.split(/\s+/).filter((w) => w !== "");
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ tokens: words.map((_, i) => i + 1) }));
        return;
      }
      const [script] = CASES[generation++ % CASES.length] as (typeof CASES)[number];
      sendSseCompletion(res, { chunks: TRUE_OUTPUT, gapMs: 10, ...script });
    });
    const args = benchArgs(`${root}/v1`, "--warmup", "0", "--max-tokens", "4");
    const run = await runCli([...args, "-n", String(CASES.length), "--json", "--no-save"]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as RunResult;
    const records = result.requests as unknown as RequestRecord[];
    assert.equal(records.length, CASES.length);
    for (const record of records) {
      const [script, flag] = CASES[record.index] as (typeof CASES)[number];
      const what = JSON.stringify(script);
      assert.equal(record.error, null, what);
      if (flag === null) {
        assert.ok(!record.flags.some((f) => f.endsWith("_implausible")), `${what}: ${record.flags}`);
      } else {
        assert.ok(record.flags.includes(flag as RequestRecord["flags"][number]), `${what}: ${record.flags}`);
      }
      assert.equal(record.output_tokens, TRUE_OUTPUT, what);
      // A believable completion count is the server's; otherwise /tokenize counted the text.
      const completion = typeof script.usage === "object" ? script.usage?.completion_tokens : undefined;
      assert.equal(record.token_source, completion === TRUE_OUTPUT ? "usage" : "tokenizer", what);
      // 3 tokens after the first, sent 10 ms apart: about 100 tok/s, never negative, never absurd
      // (unknowable, hence null, only when a loaded machine read the chunks in one burst).
      const tps = record.decode_tps;
      if (tps === null) assert.ok(record.flags.includes("buffered_stream"), `${what}: decode null`);
      else assert.ok(tps > 0 && tps <= 10_000, `${what}: decode ${tps}`);
      assert.ok((record.prompt_tokens ?? 0) >= 0 && (record.prompt_tokens ?? 0) < 1e6, what);
      assert.ok(record.prefill_tps === null || record.prefill_tps >= 0, what);
      for (const rate of [record.server_timings?.decode_tps, record.server_timings?.prefill_tps]) {
        assert.ok(rate == null || (rate > 0 && rate < 1e6), `${what}: server rate ${rate}`);
      }
    }
    const s = result.summary;
    assert.equal(s.total_output_tokens, TRUE_OUTPUT * CASES.length);
    assert.equal(s.flags.usage_implausible, 7);
    assert.equal(s.flags.timings_implausible, 4);
    for (const value of [s.output_tokens_per_s, s.input_tokens_per_s]) {
      assert.ok(value !== null && Number.isFinite(value) && value >= 0, String(value));
    }
    assert.ok(s.decode_tps.max === null || s.decode_tps.max <= 10_000);

    // The terminal names the flag and what it means.
    const text = await runCli([...args, "-n", "1", "--no-save"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /usage_implausible: 1 request — [\s\S]*?not used/);
  });
});
