import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { llamaBenchArgs, parseLlamaBenchJson } from "../../bench/engine/runLlamaBenchBinary.js";
import {
  ENGINE_PROCESS_ENV,
  isEngineEnvApplied,
  relaunchWithEngineEnv,
} from "../../src/engine/native/engineProcessEnv.js";
import { recommendedThreads } from "../../src/engine/native/recommendedThreads.js";
import { TUNED_CMAKE_OPTIONS } from "../../src/engine/native/tunedBuildOptions.js";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";

test("recommendedThreads: tuned build with the engine env uses every math core, capped by logical CPUs", () => {
  assert.equal(recommendedThreads({ logicalCpus: 2, mathCores: 2, build: "native", engineEnv: true }), 2);
  assert.equal(recommendedThreads({ logicalCpus: 16, mathCores: 8, build: "native", engineEnv: true }), 8);
  assert.equal(recommendedThreads({ logicalCpus: 4, mathCores: 8, build: "native", engineEnv: true }), 4);
});

test("recommendedThreads: decode on <= 2 cores without the tuned setup uses 1 thread", () => {
  assert.equal(recommendedThreads({ logicalCpus: 2, mathCores: 2, build: "prebuilt", engineEnv: true }), 1);
  assert.equal(recommendedThreads({ logicalCpus: 2, mathCores: 2, build: "native", engineEnv: false }), 1);
  assert.equal(
    recommendedThreads({ logicalCpus: 2, mathCores: 2, build: "prebuilt", workload: "prefill" }),
    2,
  );
  assert.equal(recommendedThreads({ logicalCpus: 8, mathCores: 4, build: "prebuilt", engineEnv: false }), 4);
});

test("recommendedThreads: nonsense inputs are clamped to at least one thread", () => {
  assert.equal(recommendedThreads({ logicalCpus: 0, mathCores: 0 }), 1);
  assert.ok(recommendedThreads() >= 1);
});

test("engine env: applied when relaunched or when the user chose UV_THREADPOOL_SIZE", () => {
  assert.equal(ENGINE_PROCESS_ENV.UV_THREADPOOL_SIZE, "1");
  assert.equal(isEngineEnvApplied({}), false);
  assert.equal(isEngineEnvApplied({ UV_THREADPOOL_SIZE: "8" }), true);
  assert.equal(isEngineEnvApplied({ TOKBENCH_ENGINE_ENV: "1" }), true);
});

test("relaunchWithEngineEnv runs the script again with the engine env and returns its exit code", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tokbench-relaunch-"));
  const script = join(dir, "child.mjs");
  writeFileSync(
    script,
    "process.exit(process.env.UV_THREADPOOL_SIZE === '1' && process.argv[2] === 'x' ? 7 : 3);\n",
  );
  try {
    assert.equal(await relaunchWithEngineEnv([process.execPath, script, "x"], []), 7);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tuned build options turn on OpenMP and native CPU code", () => {
  assert.equal(TUNED_CMAKE_OPTIONS.GGML_OPENMP, "ON");
  assert.equal(TUNED_CMAKE_OPTIONS.GGML_NATIVE, "ON");
  assert.ok(Object.isFrozen(TUNED_CMAKE_OPTIONS));
});

test("llamaBenchArgs builds llama-bench's comma-list command line", () => {
  assert.deepEqual(
    llamaBenchArgs({
      model: "/m.gguf",
      nPrompt: [64],
      nGen: [32],
      threads: [1, 2],
      repetitions: 3,
      batchSize: 512,
    }),
    ["-m", "/m.gguf", "-o", "json", "-p", "64", "-n", "32", "-t", "1,2", "-r", "3", "-b", "512"],
  );
  assert.deepEqual(llamaBenchArgs({ model: "m", extraArgs: ["--poll", "0"] }).slice(-2), ["--poll", "0"]);
});

test("parseLlamaBenchJson reads llama-bench -o json rows", () => {
  // Trimmed from a real `llama-bench -o json` run of this llama.cpp release.
  const text = JSON.stringify([
    {
      build_commit: "de3ff815",
      build_number: 1,
      cpu_info: "AMD EPYC",
      model_filename: "/m.gguf",
      model_type: "qwen2 1B Q4_0",
      model_n_params: 494032768,
      n_batch: 2048,
      n_ubatch: 512,
      n_threads: 2,
      poll: 50,
      flash_attn: -1,
      n_prompt: 64,
      n_gen: 0,
      n_depth: 0,
      avg_ns: 400000000,
      stddev_ns: 1000,
      avg_ts: 160.5,
      stddev_ts: 1.25,
      samples_ns: [400000000, 398000000],
      samples_ts: [160, 161],
    },
  ]);
  const [row] = parseLlamaBenchJson(text);
  assert.ok(row);
  assert.equal(row.n_prompt, 64);
  assert.equal(row.n_gen, 0);
  assert.equal(row.n_threads, 2);
  assert.equal(row.avg_ts, 160.5);
  assert.equal(row.stddev_ts, 1.25);
  assert.deepEqual(row.samples_ts, [160, 161]);
  assert.equal(row.model_n_params, 494032768);
  assert.equal(row.poll, 50);
});

test("parseLlamaBenchJson rejects non-JSON and rows without rates", () => {
  assert.throws(
    () => parseLlamaBenchJson("| model | size |"),
    (e) => isTokbenchError(e, "INVALID_ARGUMENT"),
  );
  assert.throws(
    () => parseLlamaBenchJson("{}"),
    (e) => isTokbenchError(e, "INVALID_ARGUMENT"),
  );
  assert.throws(
    () => parseLlamaBenchJson('[{"n_prompt":1,"n_gen":0,"n_threads":1}]'),
    (e) => isTokbenchError(e, "INVALID_ARGUMENT") && /avg_ts/.test(e.message),
  );
});
