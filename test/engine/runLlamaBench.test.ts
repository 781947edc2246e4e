import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineBinding } from "../../src/engine/EngineBinding.js";
import { type EngineKnobs, singlePointKnobs } from "../../src/engine/EngineGrid.js";
import { inspectModelFile, loadEngineModel } from "../../src/engine/loadEngineModel.js";
import { runLlamaBench } from "../../src/engine/runLlamaBench.js";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { EmbeddedTarget } from "../../src/targets/embedded/EmbeddedTarget.js";
import { TraceWriter } from "../../src/trace/TraceWriter.js";
import { MEDIUM_DENSE_SHAPE } from "./testModels.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-engine-"));
const tiny = join(dir, "tiny.gguf");
/** Big enough that one decode step costs milliseconds, so wall clock and engine counters are comparable. */
const medium = join(dir, "medium.gguf");
let binding: EngineBinding;

const knobs = (over: Partial<EngineKnobs> = {}): EngineKnobs => singlePointKnobs(1, over);

before(async () => {
  await synthesizeModel({ preset: "tiny", type: "q8_0", seed: 3, out: tiny });
  await synthesizeModel({
    preset: "tiny",
    type: "q4_0",
    seed: 3,
    out: medium,
    shape: MEDIUM_DENSE_SHAPE,
  });
  binding = await EngineBinding.open({ gpu: false });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("runLlamaBench on the real engine", () => {
  it("runs pp, tg and pg with exact token counts, a schema-valid trace and engine counters", async () => {
    const tracePath = join(dir, "trace.ndjson");
    const trace = TraceWriter.open(tracePath, "detailed");
    trace.sessionStart({
      started_at: new Date().toISOString(),
      tool: { name: "tokbench", version: "test" },
      model: {},
      engine: {},
      config: {},
    });
    const result = await runLlamaBench({
      model_path: tiny,
      binding,
      knobs: knobs(),
      plan: { pp: [100], tg: [12], pg: [[20, 5]], depth: [0, 40] },
      repetitions: 2,
      trace,
    });
    trace.sessionEnd("completed");
    assert.equal(result.loads.length, 1);
    assert.ok((result.loads[0]?.load_cold_ms ?? 0) > 0 && (result.loads[0]?.load_warm_ms ?? 0) > 0);
    assert.deepEqual(
      result.rows.map((r) => [r.test, r.status]),
      [
        ["pp100", "ok"],
        ["tg12", "ok"],
        ["pp20+tg5", "ok"],
        ["pp100 @ d40", "ok"],
        ["tg12 @ d40", "ok"],
        ["pp20+tg5 @ d40", "ok"],
      ],
    );
    for (const row of result.rows) {
      assert.equal(row.decode_loop, "direct");
      assert.equal(row.samples_ns.length, 2);
      assert.equal(row.model_n_params > 0 && row.model_size > 0, true);
      // avg_ts is the mean of per-repetition tokens/s.
      const expected = row.samples_ns.map((ns) => ((row.n_prompt + row.n_gen) * 1e9) / ns);
      assert.ok(
        Math.abs((row.avg_ts ?? 0) - expected.reduce((a, b) => a + b) / 2) < 1e-6 * (row.avg_ts ?? 1),
      );
      assert.ok(row.engine_prompt_ms !== null && row.engine_eval_ms !== null);
      // The engine cannot have spent more time than the wall clock around it.
      assert.ok(row.engine_prompt_ms + row.engine_eval_ms <= (row.avg_ns ?? 0) / 1e6 + 0.5, row.test);
    }

    const events = readFileSync(tracePath, "utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(events[0].event, "session_start");
    assert.equal(events.at(-1).event, "session_end");
    assert.equal(events.at(-1).generations, 12);
    let open = null as { id: string; prefill: number; decode: number } | null;
    let lastT = 0;
    for (const e of events.slice(1, -1)) {
      assert.ok(e.t_ms >= lastT - 1e-3, "events are in time order");
      lastT = e.t_ms;
      if (e.event === "generation_start") {
        assert.equal(open, null);
        open = { id: e.id, prefill: 0, decode: 0 };
      } else if (e.event === "prefill_batch" || e.event === "decode_step") {
        assert.equal(e.id, open?.id);
        assert.ok(
          e.t_end_ms >= e.t_start_ms && Math.abs(e.duration_ms - (e.t_end_ms - e.t_start_ms)) < 0.002,
        );
        if (open === null) assert.fail("step outside a generation");
        if (e.event === "prefill_batch") open.prefill += e.tokens;
        else open.decode += e.tokens;
      } else {
        assert.equal(e.event, "generation_end");
        assert.equal(e.id, open?.id);
        const test = String(e.id).split("/")[0] as string;
        const nPrompt = Number(/pp(\d+)/.exec(test)?.[1] ?? 0);
        const nGen = Number(/tg(\d+)/.exec(test)?.[1] ?? 0);
        // Prefill covers the prompt (or tg's single start token); then one decode step per generated token.
        assert.equal(open?.prefill, nPrompt > 0 ? nPrompt : 1, e.id);
        assert.equal(open?.decode, nPrompt > 0 ? nGen : nGen - 1, e.id);
        assert.equal(e.output_tokens, nPrompt > 0 ? nGen + 1 : nGen);
        // llama.cpp's own counters saw exactly the same calls.
        assert.equal(e.engine.eval_runs + e.engine.prompt_tokens, nPrompt > 0 ? nPrompt + nGen : nGen, e.id);
        open = null;
      }
    }
    // decode_step_p10_ns: per repetition of a tg row, the 10th percentile (numpy's linear rule) of
    // the decode steps' wall times, which the trace recorded one by one; absent on pp and pg rows.
    const stepMs = new Map<string, number[]>();
    for (const e of events)
      if (e.event === "decode_step") stepMs.set(e.id, [...(stepMs.get(e.id) ?? []), e.duration_ms]);
    const p10 = (xs: number[]): number => {
      const sorted = [...xs].sort((a, b) => a - b);
      const h = (sorted.length - 1) * 0.1;
      const lo = Math.floor(h);
      return (sorted[lo] as number) + (h - lo) * ((sorted[lo + 1] as number) - (sorted[lo] as number));
    };
    for (const row of result.rows) {
      if (row.n_prompt > 0) {
        assert.equal(row.decode_step_p10_ns, undefined, row.test);
        assert.equal(row.decode_step_p50_ns, undefined, row.test);
        continue;
      }
      assert.equal(row.decode_step_p50_ns?.length, 2, row.test);
      const steps = row.decode_step_p10_ns ?? [];
      assert.equal(steps.length, 2, row.test);
      steps.forEach((ns, rep) => {
        const durations = stepMs.get(`${row.test.replace(/ /g, "")}/t${row.n_threads}/r${rep}/s0`) ?? [];
        assert.equal(durations.length, 11, `${row.test} r${rep}: tg12 is 11 decode steps`);
        // The trace rounds each duration to the microsecond.
        assert.ok(
          Math.abs(ns - p10(durations) * 1e6) <= 1000,
          `${row.test} r${rep}: ${ns} vs ${p10(durations)} ms`,
        );
        assert.ok(ns * 11 <= (row.samples_ns[rep] as number), "a low step is at most the mean step");
        // The median of 11 steps is the 6th fastest.
        const median = [...durations].sort((a, b) => a - b)[5] as number;
        assert.ok(
          Math.abs((row.decode_step_p50_ns?.[rep] as number) - median * 1e6) <= 1000,
          `${row.test} r${rep} p50`,
        );
      });
    }
  });

  it("runs parallel sequences through node-llama-cpp's batching and one sequence directly", async () => {
    const result = await runLlamaBench({
      model_path: tiny,
      binding,
      knobs: knobs({ parallel: [1, 2] }),
      plan: { pp: [], tg: [6], pg: [], depth: [0] },
      repetitions: 1,
      measure_load: false,
    });
    assert.deepEqual(
      result.rows.map((r) => [r.n_parallel, r.decode_loop, r.status]),
      [
        [1, "direct", "ok"],
        [2, "sequence", "ok"],
      ],
    );
    // n_parallel x n_gen tokens per repetition.
    const two = result.rows[1];
    assert.ok(
      two &&
        Math.abs((two.avg_ts ?? 0) - (2 * 6 * 1e9) / (two.samples_ns[0] ?? 1)) < 1e-6 * (two.avg_ts ?? 1),
    );
  });

  it("pp and tg wall-clock rates agree with llama.cpp's own counters", async () => {
    const result = await runLlamaBench({
      model_path: medium,
      binding,
      knobs: knobs(),
      plan: { pp: [128], tg: [16], pg: [], depth: [0] },
      repetitions: 3,
      measure_load: false,
    });
    const [pp, tg] = result.rows;
    assert.ok(pp !== undefined && tg !== undefined && pp.avg_ts !== null && tg.avg_ts !== null);
    assert.ok(pp.engine_ts !== null && tg.engine_ts !== null);
    const ppRatio = pp.avg_ts / pp.engine_ts;
    const tgRatio = tg.avg_ts / tg.engine_ts;
    // Prefill: one engine call per batch, wall clock and counters measure the same work.
    assert.ok(ppRatio > 0.9 && ppRatio < 1.1, `pp wall/engine = ${ppRatio.toFixed(3)}`);
    assert.equal(pp.engine_mismatch, false);
    // Generation: the wall clock also pays node-llama-cpp's per-token round trips and the sampling,
    // which llama.cpp's eval counter does not see; it can be slower, never faster.
    assert.ok(tgRatio < 1.1, `tg wall/engine = ${tgRatio.toFixed(3)}`);
    assert.equal(tg.engine_mismatch, Math.abs(tgRatio - 1) > 0.1);
  });

  it("records failing grid points and goes on", async () => {
    const result = await runLlamaBench({
      model_path: tiny,
      binding,
      knobs: knobs({ type_v: ["q8_0", "f16"], ctx_size: [null, 16] }),
      plan: { pp: [32], tg: [4], pg: [], depth: [0] },
      repetitions: 1,
      measure_load: false,
    });
    const byPoint = result.rows.map((r) => `${r.type_v}/${r.status}`);
    assert.deepEqual(byPoint, [
      // ctx sized automatically: the quantized V cache without flash attention is rejected, f16 runs.
      "q8_0/failed",
      "q8_0/failed",
      "f16/ok",
      "f16/ok",
      // ctx 16: too small for the tests, whatever the cache type.
      "q8_0/failed",
      "q8_0/failed",
      "f16/failed",
      "f16/failed",
    ]);
    assert.match(result.rows[0]?.error ?? "", /quantized V cache .* requires flash attention/);
    assert.match(result.rows[6]?.error ?? "", /context size 16 is smaller than/);
  });

  it("rejects a grid that cannot fit in memory, a missing model and a corrupt one", async () => {
    await assert.rejects(
      runLlamaBench({
        model_path: tiny,
        binding,
        knobs: knobs(),
        plan: { pp: [8], tg: [], pg: [], depth: [] },
        available_memory_bytes: 1e6,
      }),
      (e: unknown) => isTokbenchError(e, "ENGINE_OUT_OF_MEMORY") && /does not fit in memory/.test(e.message),
    );
    await assert.rejects(
      runLlamaBench({
        model_path: join(dir, "nope.gguf"),
        binding,
        knobs: knobs(),
        plan: { pp: [8], tg: [], pg: [], depth: [] },
      }),
      (e: unknown) => isTokbenchError(e, "FILE_NOT_FOUND") && e.message.includes("nope.gguf"),
    );
    const corrupt = join(dir, "corrupt.gguf");
    writeFileSync(corrupt, Buffer.concat([readFileSync(tiny).subarray(0, 4096)]));
    await assert.rejects(
      runLlamaBench({
        model_path: corrupt,
        binding,
        knobs: knobs(),
        plan: { pp: [8], tg: [], pg: [], depth: [] },
      }),
      (e: unknown) => isTokbenchError(e, "ENGINE_LOAD_FAILED") && !e.message.includes("\n"),
    );
    writeFileSync(corrupt, "not a gguf file at all");
    await assert.rejects(
      runLlamaBench({
        model_path: corrupt,
        binding,
        knobs: knobs(),
        plan: { pp: [8], tg: [], pg: [], depth: [] },
      }),
      (e: unknown) => isTokbenchError(e, "ENGINE_LOAD_FAILED"),
    );
  });
});

describe("EmbeddedTarget", () => {
  it("produces an observation with exact token counts and the engine's timings", async () => {
    const file = await inspectModelFile(tiny);
    const loaded = await loadEngineModel(binding, file);
    const target = await EmbeddedTarget.create({
      binding,
      model: loaded.model,
      context: {
        threads: 1,
        batch_size: 512,
        ubatch_size: 512,
        ctx_size: 256,
        flash_attn: false,
        type_k: "f16",
        type_v: "f16",
        parallel: 1,
      },
    });
    try {
      const prompt = "The quick brown fox jumps over the lazy dog. ".repeat(4);
      const promptTokens = await target.countTokens(prompt);
      assert.ok(promptTokens !== null && promptTokens > 10);
      const planned = performance.now();
      const obs = await target.send(
        {
          messages: [{ role: "user", content: prompt }],
          prompt,
          prompt_tokens: promptTokens,
          prompt_tokens_exact: true,
          max_tokens: 20,
          force_output_length: true,
        },
        { planned_at_ms: planned },
      );
      assert.equal(obs.error, null);
      assert.equal(obs.chunks.length, 20);
      assert.deepEqual(
        obs.chunks.map((c) => c.read_index),
        [...Array(20).keys()],
      );
      assert.ok(obs.chunks.every((c) => c.tokens === 1));
      assert.ok(obs.chunks.every((c, i) => i === 0 || c.at_ms >= (obs.chunks[i - 1]?.at_ms ?? 0)));
      assert.ok(
        obs.sent_at_ms >= planned &&
          (obs.chunks[0]?.at_ms ?? 0) > obs.sent_at_ms &&
          obs.end_at_ms >= (obs.chunks[19]?.at_ms ?? 0),
      );
      assert.deepEqual(obs.usage, {
        prompt_tokens: promptTokens,
        completion_tokens: 20,
        cached_prompt_tokens: 0,
      });
      assert.equal(obs.server_timings?.source, "engine");
      assert.equal(obs.server_timings?.prompt_tokens, promptTokens);
      assert.equal(obs.server_timings?.output_tokens, 19);

      // Same prompt, same greedy output: the second request reproduces the first one's text lengths.
      const again = await target.send(
        {
          messages: [],
          prompt,
          prompt_tokens: promptTokens,
          prompt_tokens_exact: true,
          max_tokens: 20,
          force_output_length: true,
        },
        { planned_at_ms: performance.now() },
      );
      assert.deepEqual(
        again.chunks.map((c) => c.chars),
        obs.chunks.map((c) => c.chars),
      );

      const tooLong = await target.send(
        {
          messages: [],
          prompt,
          prompt_tokens: promptTokens,
          prompt_tokens_exact: true,
          max_tokens: 1000,
          force_output_length: true,
        },
        { planned_at_ms: performance.now() },
      );
      assert.equal(tooLong.error?.code, "REQUEST_ENGINE_FAILED");
      assert.match(tooLong.error?.message ?? "", /exceed the context size/);
    } finally {
      await target.close();
      await loaded.model.dispose();
    }
  });
});
