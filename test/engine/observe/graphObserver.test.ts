/**
 * The graph observer on the real engine (native/graph-observer/, `npm run build:observer`). Skipped
 * when the addon is not built, except under `npm run test:observer` (TOKBENCH_REQUIRE_OBSERVER=1),
 * where a missing addon fails. The observer must be in the process before node-llama-cpp's binding,
 * so it is loaded first, and this file runs in its own process like every test file.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Token } from "node-llama-cpp";
import { runEmbeddedBench } from "../../../src/benchmark/runEmbeddedBench.js";
import { createEngineContext } from "../../../src/engine/createEngineContext.js";
import { DirectDecoder } from "../../../src/engine/DirectDecoder.js";
import { EngineBinding } from "../../../src/engine/EngineBinding.js";
import { singlePointKnobs } from "../../../src/engine/EngineGrid.js";
import { inspectModelFile, loadEngineModel } from "../../../src/engine/loadEngineModel.js";
import { GraphObserver, type ObserveWhat } from "../../../src/engine/observe/GraphObserver.js";
import { readGguf } from "../../../src/gguf/readGguf.js";
import type { RunResult } from "../../../src/results/RunResult.js";
import { synthesizeModel } from "../../../src/synth/synthesizeModel.js";
import { collectMachineInfo } from "../../../src/system/machineInfo.js";
import type { TraceLevel } from "../../../src/trace/TraceEvent.js";
import { validateTrace } from "../../../src/trace/traceSchema.js";
import { MEDIUM_DENSE_SHAPE } from "../testModels.js";

const available = GraphObserver.isAvailable();
const required = process.env.TOKBENCH_REQUIRE_OBSERVER === "1";
const skip = available ? false : "the graph observer is not built (npm run build:observer)";

const dir = mkdtempSync(join(tmpdir(), "tokbench-observer-"));
const tinyMoe = join(dir, "tiny-moe.gguf");
const dense = join(dir, "dense.gguf");
let observer: GraphObserver;
let binding: EngineBinding;
let machine: Awaited<ReturnType<typeof collectMachineInfo>>;

const knobs = singlePointKnobs(1);

function observe(
  model: string,
  what: ObserveWhat,
  plan: { pp?: number[]; tg?: number[] },
  trace: { path: string; level: TraceLevel } | null = null,
): Promise<RunResult> {
  return runEmbeddedBench({
    model,
    plan: { pp: plan.pp ?? [], tg: plan.tg ?? [], pg: [], depth: [0] },
    repetitions: 2,
    knobs,
    requests: null,
    trace,
    llama: binding.llama,
    default_threads: 1,
    decode_ceiling: null,
    machine,
    observe: { observer, what },
  });
}

if (!available && required) {
  it("the graph observer is built (npm run test:observer builds it)", () => {
    assert.fail(`no addon at ${GraphObserver.defaultPath()}`);
  });
}

describe("graph observer on the real engine", { skip }, () => {
  before(async () => {
    observer = GraphObserver.load(); // before the binding: its wrappers must come first
    binding = await EngineBinding.open({ gpu: false });
    machine = await collectMachineInfo({ engine: "node-llama-cpp" });
    // F32 weights, so the test below can look for weight values in the traces.
    await synthesizeModel({ preset: "tiny-moe", type: "f32", seed: 5, out: tinyMoe });
    // Big enough that a step takes milliseconds, so clocks a few µs apart compare well.
    await synthesizeModel({
      preset: "tiny",
      type: "q4_0",
      seed: 5,
      out: dense,
      shape: MEDIUM_DENSE_SHAPE,
    });
  });
  after(async () => {
    await binding?.llama.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is built for the llama.cpp release node-llama-cpp runs", () => {
    assert.equal(observer.builtFor.tag, binding.llama.llamaCppRelease.release);
    assert.doesNotThrow(() => observer.assertMatches(binding.llama));
  });

  it("tiny-moe: each layer's counts sum to its tokens x experts used, on the model's router layers", async () => {
    const result = await observe(
      tinyMoe,
      { experts: true, layers: false, tensors: false },
      { pp: [16], tg: [8] },
    );
    assert.deepEqual(result.tests, [], "an observation run has no speed rows");
    assert.equal(result.observation?.speed_figures, false);
    assert.deepEqual(result.observation?.warnings, []);
    const u = result.expert_usage;
    assert.ok(u !== undefined);
    const gguf = await inspectModelFile(tinyMoe);
    const routers = gguf.inspection.tensors.filter((t) => /^blk\.\d+\.ffn_gate_inp\.weight$/.test(t.name));
    assert.equal(u.n_moe_layers, routers.length);
    assert.equal(u.layers.length, routers.length, "layers with counts = the model's MoE layers");
    assert.equal(u.n_expert, 8);
    assert.equal(u.n_expert_used, 2);
    // 2 repetitions of pp16 (one 16-token batch) and tg8 (8 single-token steps).
    assert.equal(u.prompt_tokens, 2 * 16);
    assert.equal(u.generated_tokens, 2 * 8);
    const last = u.layers.length - 1;
    for (const [i, l] of u.layers.entries()) {
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      assert.equal(sum(l.counts), l.tokens * u.n_expert_used, `layer ${l.layer}`);
      assert.equal(l.selections, sum(l.counts));
      assert.equal(sum(l.prompt_counts) + sum(l.generated_counts), l.selections);
      // Generated tokens pass every layer: layers x tokens x experts used.
      assert.equal(sum(l.generated_counts), u.generated_tokens * u.n_expert_used, `layer ${l.layer}`);
      // Prompt tokens too, except in the last layer, where llama.cpp routes only the tokens whose
      // logits are wanted: one per prompt batch.
      assert.equal(
        sum(l.prompt_counts),
        (i === last ? 2 : u.prompt_tokens) * u.n_expert_used,
        `layer ${l.layer}`,
      );
      assert.ok(l.counts.every((c) => Number.isInteger(c) && c >= 0));
    }
    assert.equal(u.total_selections, u.layers.reduce((a, l) => a + l.tokens, 0) * u.n_expert_used);
    assert.ok((u.hot[0]?.count ?? 0) >= (u.cold[0]?.count ?? Number.POSITIVE_INFINITY));
    const advice = u.override_tensor;
    assert.ok(advice !== null);
    assert.deepEqual([...advice.cpu_first].sort(), routers.map((_, i) => i).sort());
    assert.match(advice.pattern, /^blk\\\.\((\d+\|)*\d+\)\\\.ffn_\(up\|gate\|down\)_exps\\\.weight=CPU$/);
    assert.ok(
      new RegExp(advice.pattern.replace(/=CPU$/, "")).test(`blk.${advice.cpu_layers[0]}.ffn_up_exps.weight`),
    );
  });

  it("dense model: every layer is timed, and layers + outside add up to llama.cpp's own step time within 10 %", async () => {
    const result = await observe(
      dense,
      { experts: true, layers: true, tensors: false },
      { pp: [64], tg: [8] },
    );
    assert.equal(result.expert_usage, undefined, "a dense model has no routing counts");
    assert.match(result.observation?.warnings.join("\n") ?? "", /no expert routers/);
    const timing = result.layer_timing ?? [];
    assert.deepEqual(
      timing.map((t) => [t.test, t.phase, t.steps]),
      [
        ["pp64", "prefill", 2],
        ["tg8", "decode", 16],
      ],
    );
    for (const t of timing) {
      assert.equal(t.layers.length, 4, "one entry per layer");
      for (const l of t.layers) assert.ok(l.ms_mean > 0 && l.share_pct > 0, `${t.test} layer ${l.layer}`);
      const layers = t.layers.reduce((a, l) => a + l.ms_mean, 0);
      assert.ok(t.engine_ms_mean !== null && t.engine_ms_mean > 0, "llama.cpp's counters were read");
      const gap = Math.abs(layers + t.outside_layers_ms - t.engine_ms_mean) / t.engine_ms_mean;
      assert.ok(
        gap < 0.1,
        `${t.test}: layers ${layers} + outside ${t.outside_layers_ms} vs engine ${t.engine_ms_mean}`,
      );
      // The observer's own clock: the parts tile llama_decode exactly.
      assert.ok(
        Math.abs(layers + t.outside_layers_ms + t.observer_ms - t.decode_ms_mean) < 1e-6 * t.decode_ms_mean,
      );
      assert.ok(t.syncs_per_step >= 4, "at least one synchronisation per layer");
      assert.ok(t.unobserved_step_ms_mean !== null && t.overhead_pct !== null);
    }
    const shares = (timing[1]?.layers ?? []).reduce((a, l) => a + l.share_pct, 0);
    assert.ok(shares > 0 && shares < 100);
  });

  for (const level of ["minimal", "detailed", "verbose"] as const) {
    it(`${level} trace of an observation run validates against the schema and holds no weight values`, async () => {
      const path = join(dir, `${level}.ndjson`);
      await observe(
        tinyMoe,
        { experts: true, layers: true, tensors: level === "verbose" },
        { pp: [16], tg: [4] },
        { path, level },
      );
      const text = readFileSync(path, "utf8");
      assert.deepEqual(validateTrace(text), []);
      const events = text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const count = (name: string) => events.filter((e) => e.event === name).length;
      const model = (events[0]?.model ?? {}) as Record<string, unknown>;
      assert.equal(model.n_expert, 8, "session metadata");
      assert.ok(Array.isArray(model.quantization_mix));
      // 2 tests x 2 repetitions x (reference + observed).
      assert.equal(count("generation_start"), 8);
      if (level === "minimal") {
        assert.equal(count("layer") + count("tensor") + count("decode_step"), 0);
        return;
      }
      // Per observed step: the input part, 2 layers, the output part (the input part may come in
      // two spans, before and after the scheduler starts).
      const observedSteps = 2 * (1 + 4);
      const layerEvents = events.filter((e) => e.event === "layer" && e.part === "layer");
      assert.equal(layerEvents.length, observedSteps * 2);
      assert.equal(count("tensor") > 0, level === "verbose");
      if (level === "verbose") {
        const tensors = events.filter((e) => e.event === "tensor");
        assert.ok(tensors.some((t) => t.name === "ffn_moe_topk-1" && t.op === "VIEW" && t.type === "i32"));
        assert.ok(tensors.some((t) => (t.inputs as string[]).includes("blk.0.ffn_up_exps.weight")));
        assert.ok(tensors.every((t) => (t.shape as number[]).length <= 4));
      }
      // No weight value anywhere: the strict schema admits no data field; and no weight of the
      // file appears as a number in the text.
      const weights = await someWeights(tinyMoe);
      assert.ok(weights.length > 0);
      for (const value of weights) {
        assert.equal(text.includes(JSON.stringify(value)), false, `weight ${value} found in the trace`);
      }
    });
  }

  it("the replay script tells each observed step's layer times", async () => {
    const path = join(dir, "detailed.ndjson");
    const script = fileURLToPath(new URL("../../../../scripts/replay-trace.mjs", import.meta.url));
    const run = spawnSync(process.execPath, [script, path], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    const events = readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const first = events.find((e) => e.event === "layer" && e.part === "layer" && e.step === "decode_step");
    assert.ok(first !== undefined);
    const line = `${first.id} decode step ${first.index}, layer ${first.layer} took ${(first.duration_ms as number).toFixed(3)} ms`;
    assert.ok(run.stdout.includes(line), `missing: ${line}`);
  });

  it("observing changes no result: the same greedy tokens with and without the observer", async () => {
    const file = await inspectModelFile(tinyMoe);
    const loaded = await loadEngineModel(binding, file);
    const context = await createEngineContext(binding, loaded.model, {
      threads: 1,
      batch_size: 64,
      ubatch_size: 64,
      ctx_size: 256,
      flash_attn: false,
      type_k: "f16",
      type_v: "f16",
      parallel: 1,
    });
    const decoder = DirectDecoder.open(context, loaded.model, 1);
    assert.ok(decoder !== null);
    try {
      observer.configure(
        { experts: true, layers: true, tensors: true },
        { n_layer: 2, n_expert: 8, n_expert_used: 2 },
      );
      const prompt = [5, 17, 300, 42, 9, 1000] as Token[];
      const run = async (armed: boolean) => {
        decoder.clear();
        observer.arm(armed ? "observe" : "off");
        try {
          return (await decoder.generate(prompt, { chunk_size: 64, max_tokens: 12, ignore_eos: true }))
            .tokens;
        } finally {
          observer.arm("off");
          observer.take();
        }
      };
      const plain = await run(false);
      const observed = await run(true);
      assert.equal(plain.length, 12);
      assert.deepEqual(observed, plain);
    } finally {
      decoder.dispose();
      await context.dispose();
      await loaded.model.dispose();
    }
  });
});

/** The first F32 weights of some matrices of the file, as JavaScript numbers; integers left out. */
async function someWeights(path: string): Promise<number[]> {
  const gguf = await readGguf(path, { maxArrayElements: 4 });
  const out: number[] = [];
  const fd = openSync(path, "r");
  try {
    const matrices = gguf.tensors.filter((x) => x.type.name === "F32" && !x.name.includes("norm"));
    for (const t of matrices.slice(0, 4)) {
      const buf = Buffer.alloc(16);
      readSync(fd, buf, 0, 16, t.fileOffset);
      for (let i = 0; i < 4; i++) {
        const v = buf.readFloatLE(i * 4);
        if (!Number.isInteger(v)) out.push(v);
      }
    }
  } finally {
    closeSync(fd);
  }
  return out;
}
