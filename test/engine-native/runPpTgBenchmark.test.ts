import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { LlamaModel } from "node-llama-cpp";
import { runPpTgBenchmark } from "../../bench/engine/runPpTgBenchmark.js";
import { getTunedLlama, type TunedLlama } from "../../src/engine/native/getTunedLlama.js";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";

let dir = "";
let tuned: TunedLlama;
let model: LlamaModel;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "tokbench-engine-native-"));
  const { path } = await synthesizeModel({
    preset: "tiny",
    type: "q8_0",
    out: join(dir, "tiny.gguf"),
    seed: 1,
  });
  tuned = await getTunedLlama({ gpu: false, logLevel: "error" });
  model = await tuned.llama.loadModel({ modelPath: path, gpuLayers: 0 });
});

after(async () => {
  await model?.dispose();
  await tuned?.llama.dispose();
  rmSync(dir, { recursive: true, force: true });
});

test("getTunedLlama reports which binary it loaded and a usable default thread count", () => {
  assert.ok(tuned.build === "native" || tuned.build === "prebuilt");
  assert.equal(tuned.llama.buildType === "localBuild", tuned.build === "native");
  assert.ok(tuned.defaultThreads >= 1);
  assert.match(tuned.systemInfo, /CPU/);
});

for (const tgMode of ["direct", "generator", "controlled"] as const) {
  test(`runPpTgBenchmark (${tgMode}) returns llama-bench-shaped rows whose rates match their durations`, async () => {
    const result = await runPpTgBenchmark(model, {
      nPrompt: 16,
      nGen: 4,
      repetitions: 2,
      threads: 1,
      tgMode,
    });
    assert.ok(result.pp && result.tg);
    assert.equal(result.tg_mode, tgMode);
    assert.deepEqual(
      [result.pp.n_prompt, result.pp.n_gen, result.tg.n_prompt, result.tg.n_gen, result.pp.n_threads],
      [16, 0, 0, 4, 1],
    );
    for (const [row, tokens] of [
      [result.pp, 16],
      [result.tg, 4],
    ] as const) {
      assert.equal(row.samples_ns.length, 2);
      row.samples_ns.forEach((ns, i) => {
        assert.ok(ns > 0);
        assert.ok(Math.abs((row.samples_ts[i] ?? 0) - (tokens * 1e9) / ns) < 1e-6);
      });
      const mean = row.samples_ts.reduce((a, b) => a + b, 0) / 2;
      assert.ok(Math.abs(row.avg_ts - mean) < 1e-9);
      assert.ok(row.stddev_ts >= 0);
    }
  });
}

test("runPpTgBenchmark skips a test of length 0 and rejects bad options", async () => {
  const result = await runPpTgBenchmark(model, { nPrompt: 8, nGen: 0, repetitions: 1, warmup: false });
  assert.ok(result.pp);
  assert.equal(result.tg, null);
  await assert.rejects(runPpTgBenchmark(model, { nPrompt: 0, nGen: 0 }), (e) =>
    isTokbenchError(e, "INVALID_ARGUMENT"),
  );
  await assert.rejects(runPpTgBenchmark(model, { threads: 0 }), (e) =>
    isTokbenchError(e, "INVALID_ARGUMENT"),
  );
});
