import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { LlamaModel, Token } from "node-llama-cpp";
import { DirectDecoder } from "../../src/engine/DirectDecoder.js";
import { EngineBinding } from "../../src/engine/EngineBinding.js";
import { generateOnSequence } from "../../src/engine/generateOnSequence.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-direct-"));
let binding: EngineBinding;
let model: LlamaModel;
const prompt = Array.from({ length: 37 }, (_, i) => ((i * 7919 + 11) % 250) as Token);

before(async () => {
  const path = join(dir, "tiny.gguf");
  await synthesizeModel({ preset: "tiny", type: "q8_0", seed: 5, out: path });
  binding = await EngineBinding.open({ gpu: false });
  model = await binding.llama.loadModel({ modelPath: path, gpuLayers: 0 });
});
after(async () => {
  await model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe("DirectDecoder on the real engine", () => {
  it("generates exactly the greedy tokens of node-llama-cpp's sequence API, in any prefill chunking", async () => {
    // Ground truth: the same model, prompt and greedy sampling through the public sequence API.
    const reference = await model.createContext({
      contextSize: 128,
      batchSize: 64,
      threads: 1,
      sequences: 1,
    });
    const expected = await generateOnSequence(reference.getSequence(), prompt, {
      chunk_size: 64,
      max_tokens: 12,
      ignore_eos: true,
    });
    await reference.dispose();
    assert.equal(expected.tokens.length, 12);
    assert.equal(expected.prefill_batches, 1);

    const context = await model.createContext({ contextSize: 128, batchSize: 64, threads: 1, sequences: 1 });
    const decoder = DirectDecoder.open(context, model, 1);
    assert.ok(decoder, "node-llama-cpp 3.22's native context has the calls DirectDecoder needs");
    try {
      const steps: string[] = [];
      const whole = await decoder.generate(prompt, {
        chunk_size: 64,
        max_tokens: 12,
        ignore_eos: true,
        on_step: (s) => steps.push(`${s.kind}:${s.tokens}`),
      });
      assert.deepEqual(whole.tokens, expected.tokens);
      assert.deepEqual(steps, ["prefill:37", ...Array.from({ length: 11 }, () => "decode:1")]);
      assert.ok(whole.start_ms <= whole.prefill_end_ms && whole.prefill_end_ms <= whole.end_ms);

      // Positions continue across batches: a prompt fed 10 tokens at a time gives the same tokens.
      decoder.clear();
      const chunked = await decoder.generate(prompt, { chunk_size: 10, max_tokens: 12, ignore_eos: true });
      assert.equal(chunked.prefill_batches, 4);
      assert.deepEqual(chunked.tokens, expected.tokens);

      // Without clear() the KV cache keeps the first run: the same prompt now continues it.
      const continued = await decoder.generate(prompt, { chunk_size: 64, max_tokens: 3, ignore_eos: true });
      assert.equal(continued.tokens.length, 3);

      // max_tokens 0 only fills the cache.
      decoder.clear();
      const fill = await decoder.generate(prompt, { chunk_size: 64, max_tokens: 0 });
      assert.deepEqual(fill.tokens, []);
    } finally {
      decoder.dispose();
      await context.dispose();
    }
  });

  it("with next_token, samples nothing and feeds the given tokens, as llama-bench's tests do", async () => {
    const context = await model.createContext({ contextSize: 128, batchSize: 64, threads: 1, sequences: 1 });
    const decoder = DirectDecoder.open(context, model, 1);
    assert.ok(decoder);
    try {
      let next = 100;
      const fed: number[] = [];
      const stepTokens: (number | null)[] = [];
      const result = await decoder.generate(prompt, {
        chunk_size: 64,
        max_tokens: 5,
        ignore_eos: false,
        next_token: () => {
          fed.push(next);
          return next++ as Token;
        },
        on_step: (s) => stepTokens.push(s.token),
      });
      assert.deepEqual(result.tokens, [100, 101, 102, 103, 104]);
      assert.deepEqual(fed, [100, 101, 102, 103, 104]);
      assert.deepEqual(stepTokens, [null, null, null, null, null]);
      assert.equal(result.stopped_by_eog, false);
    } finally {
      decoder.dispose();
      await context.dispose();
    }
  });

  it("is not opened on a context with several sequences", async () => {
    const context = await model.createContext({ contextSize: 128, threads: 1, sequences: 2 });
    try {
      assert.equal(DirectDecoder.open(context, model, 1), null);
    } finally {
      await context.dispose();
    }
  });
});
