import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { runEmbeddedBench } from "../../src/benchmark/runEmbeddedBench.js";
import { parseEmbeddedArgs } from "../../src/cli/commands/bench/embeddedOptions.js";
import { type DefaultModelSpec, defaultModelPath } from "../../src/engine/defaultModelPath.js";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { collectMachineInfo } from "../../src/system/machineInfo.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-embedded-"));
after(() => rmSync(dir, { recursive: true, force: true }));

// The real default (Qwen2.5-0.5B's shape) is exercised by test/cli/quickStart.test.ts; here the
// same code path runs on the tiny preset, so the test takes seconds.
const TINY: DefaultModelSpec = { preset: "tiny", type: "q4_0", seed: 1 };

it("with no model, synthesizes the default one into the cache and runs tests and requests", async () => {
  const parsed = parseEmbeddedArgs({
    pp: ["16"],
    tg: ["4"],
    threads: ["1"],
    repetitions: 1,
    "engine-gpu": "cpu",
    trace: join(dir, "t.ndjson"),
    "trace-level": "minimal",
  });
  const result = await runEmbeddedBench({
    model: null,
    cache_dir: dir,
    default_model: TINY,
    plan: parsed.plan,
    repetitions: parsed.repetitions,
    knobs: parsed.knobs,
    gpu: parsed.gpu,
    trace: parsed.trace,
    requests: {
      load: {
        requests: 2,
        duration_s: null,
        concurrency: 1,
        rate: null,
        arrival: "constant",
        warmup: 0,
        max_errors: null,
        seed: 0,
      },
      workload: {
        prompt_tokens: 24,
        prompt_file: null,
        max_tokens: 6,
        force_output_length: true,
        unique_prefix: true,
        seed: 0,
      },
    },
    machine: await collectMachineInfo({ engine: "node-llama-cpp" }),
    // A fixed ceiling instead of the machine's bandwidth probe, which takes seconds.
    decode_ceiling: () => 1000,
  });
  assert.ok(existsSync(defaultModelPath(dir, TINY)));
  assert.equal(result.status, "completed");
  assert.deepEqual(
    result.tests.map((r) => [r.test, r.status]),
    [
      ["load", "ok"],
      ["pp16", "ok"],
      ["tg4", "ok"],
    ],
  );
  const tg = result.tests.find((r) => r.test === "tg4");
  assert.equal(tg?.ceiling_tps, 1000);
  assert.ok(Math.abs(Number(tg?.efficiency_pct) - Number(tg?.avg_ts) / 10) < 1e-9);
  assert.equal(result.tests.find((r) => r.test === "pp16")?.ceiling_tps, null);
  assert.equal(result.requests.length, 2);
  assert.ok(
    result.requests
      .toArray()
      .every((r) => r.output_tokens === 6 && r.prompt_tokens === 24 && r.error === null),
  );
  assert.equal(result.summary.requests.succeeded, 2);
  const events = readFileSync(join(dir, "t.ndjson"), "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l).event);
  assert.equal(events[0], "session_start");
  assert.equal(events.at(-1), "session_end");
  assert.equal(events.filter((e) => e === "generation_end").length, 2 + 2);
});

it("rejects bad knob values with one-line INVALID_ARGUMENT errors", () => {
  for (const args of [
    { threads: ["0"] },
    { threads: ["two"] },
    { "batch-size": ["-1"] },
    { repetitions: 0 },
    { pg: ["5"] },
    { "trace-level": "loud" },
  ]) {
    assert.throws(
      () => parseEmbeddedArgs(args),
      (e: unknown) => isTokbenchError(e, "INVALID_ARGUMENT") && !e.message.includes("\n"),
    );
  }
});
