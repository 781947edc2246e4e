import assert from "node:assert/strict";
import { it } from "node:test";
import { parseEnginePerf } from "../../src/engine/parseEnginePerf.js";

const lines = (promptMs: string, promptN: number, evalMs: string, evalN: number) => [
  "llama_perf_context_print:        load time =     324.92 ms",
  `llama_perf_context_print: prompt eval time = ${promptMs} ms / ${promptN} tokens (    0.32 ms per token,  3140.76 tokens per second)`,
  `llama_perf_context_print:        eval time = ${evalMs} ms / ${evalN} runs   (    1.09 ms per token,   918.13 tokens per second)`,
  "llama_perf_context_print:       total time =     485.74 ms /   163 tokens",
];

it("parses llama_perf_context_print's prompt and eval counters", () => {
  assert.deepEqual(parseEnginePerf(lines("     31.52", 99, "     69.71", 64)), {
    prompt_ms: 31.52,
    prompt_tokens: 99,
    eval_ms: 69.71,
    eval_runs: 64,
  });
});

it("reads an idle counter (printed as 0.00 ms / 1) as zero", () => {
  assert.deepEqual(parseEnginePerf(lines("0.00", 1, "12.50", 10)), {
    prompt_ms: 0,
    prompt_tokens: 0,
    eval_ms: 12.5,
    eval_runs: 10,
  });
});

it("returns null when a counter line is missing", () => {
  assert.equal(parseEnginePerf([]), null);
  assert.equal(parseEnginePerf(lines("1", 2, "3", 4).filter((l) => !l.includes(" runs"))), null);
});
