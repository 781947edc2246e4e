import assert from "node:assert/strict";
import { it } from "node:test";
import { renderEmbeddedTable, TABLE_MAX_WIDTH } from "../../src/output/terminal/renderEmbeddedTable.js";
import type { RunResult } from "../../src/results/RunResult.js";
import { sampleRunResult } from "../storage/fixtures/sampleRun.js";

/** A tests-only result over the cartesian product of `knobs` (llama-bench row fields). */
function resultWith(knobs: Record<string, unknown[]>, reps: number): RunResult {
  const base = sampleRunResult("r", 0);
  const keys = Object.keys(knobs);
  const points: Record<string, unknown>[] = [{}];
  for (const key of keys) {
    const next: Record<string, unknown>[] = [];
    for (const p of points) for (const v of knobs[key] ?? []) next.push({ ...p, [key]: v });
    points.splice(0, points.length, ...next);
  }
  const field: Record<string, string> = {
    threads: "n_threads",
    batch_size: "n_batch",
    ubatch_size: "n_ubatch",
    ctx_size: "n_ctx",
    gpu_layers: "n_gpu_layers",
    flash_attn: "flash_attn",
    type_k: "type_k",
    type_v: "type_v",
    parallel: "n_parallel",
  };
  const tests = points.flatMap((p) =>
    ["pp512", "tg128"].map((test) => ({
      test,
      model_filename: "m.gguf",
      model_size: 278_000_000,
      model_n_params: 494_032_768,
      backends: "cpu",
      n_threads: 1,
      n_batch: 2048,
      n_ubatch: 512,
      n_ctx: 768,
      n_gpu_layers: 0,
      flash_attn: false,
      type_k: "f16",
      type_v: "f16",
      n_parallel: 1,
      decode_loop: "direct",
      ...Object.fromEntries(Object.entries(p).map(([k, v]) => [field[k] ?? k, v])),
      avg_ts: 1234.5678,
      stddev_ts: 12.345,
      samples_ts: Array.from({ length: reps }, () => 1234.5678),
      engine_ts: 1300.25,
      engine_mismatch: false,
      efficiency_pct: test === "tg128" ? 57.1 : null,
      status: "ok",
      error: null,
    })),
  );
  const lists = Object.fromEntries(
    Object.entries({
      threads: [1],
      batch_size: [2048],
      ubatch_size: [512],
      ctx_size: [null],
      gpu_layers: [{ layers: 0 }],
      flash_attn: [false],
      type_k: ["f16"],
      type_v: ["f16"],
      parallel: [1],
      ...knobs,
    }),
  );
  return { ...base, config: { target: "embedded", knobs: lists }, tests, resources: null };
}

const widest = (text: string): number => Math.max(...text.split("\n").map((l) => l.length));

it("shows a swept knob as a column, the constant ones on one line, and fits 100 columns", () => {
  const text = renderEmbeddedTable(resultWith({ threads: [1, 2] }, 5));
  assert.ok(widest(text) <= TABLE_MAX_WIDTH, text);
  const head = text.split("\n").find((l) => l.includes("t/s")) ?? "";
  assert.match(head, /│ t\s+│/);
  assert.doesNotMatch(head, /│ b\s+│/);
  assert.match(text, /b=2048/);
  assert.match(text, /1234\.57 ± 12\.35/);
  assert.match(text, /t: threads/);
  assert.match(text, /494M params/);
});

it("shows a swept knob even when its values coincide in the rows", () => {
  const text = renderEmbeddedTable(resultWith({ type_k: ["f16", "f16"] }, 5));
  const head = text.split("\n").find((l) => l.includes("t/s")) ?? "";
  assert.match(head, /│ ctk\s+│/);
});

it("folds many swept knobs into one config column to stay within 100 columns", () => {
  const text = renderEmbeddedTable(
    resultWith(
      {
        threads: [1, 16],
        batch_size: [512, 2048],
        ubatch_size: [128, 512],
        gpu_layers: [{ layers: 0 }, { layers: 99 }],
        flash_attn: [false, true],
        type_k: ["f16", "q8_0"],
        type_v: ["f16", "q8_0"],
        parallel: [1, 16],
      },
      3,
    ),
  );
  assert.ok(widest(text) <= TABLE_MAX_WIDTH, `widest line ${widest(text)}`);
  assert.match(text, /│ config/);
  assert.match(text, /t=16 b=2048 ub=512/);
});

it("prints no ± for a single repetition", () => {
  const text = renderEmbeddedTable(resultWith({}, 1));
  assert.doesNotMatch(text, /±/);
  assert.match(text, /one repetition/);
});

it("says when eff % rests on a bandwidth probed on an overloaded machine", () => {
  const quiet = resultWith({}, 3);
  quiet.config.roofline_bandwidth = {
    bytes_per_second: 3.3e10,
    source: "cached",
    load_average_over_cpus: null,
  };
  assert.doesNotMatch(renderEmbeddedTable(quiet), /probed with the machine loaded/);

  const loaded = resultWith({}, 3);
  loaded.config.roofline_bandwidth = {
    bytes_per_second: 1.01e10,
    source: "probed",
    load_average_over_cpus: { load_average: 7.62, cpus: 2 },
  };
  const text = renderEmbeddedTable(loaded);
  assert.match(
    text.replace(/\n/g, " "),
    /The memory bandwidth \(10\.1 GB\/s\) was probed with the machine loaded \(load average 7\.6 on 2 CPUs\): the ceiling is likely low and eff % high/,
  );
  assert.ok(widest(text) <= TABLE_MAX_WIDTH);
});
