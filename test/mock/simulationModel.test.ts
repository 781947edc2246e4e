import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simMemory, startupOom } from "../../src/mock/simulation/memoryModel.js";
import { SimEngine, type SimFinish, type SimRequest } from "../../src/mock/simulation/SimEngine.js";
import { SimNoise } from "../../src/mock/simulation/SimNoise.js";
import { resolveSimulation, type SimulationOptions } from "../../src/mock/simulation/SimulationConfig.js";
import { simulateClosedLoop } from "../../src/mock/simulation/simulateClosedLoop.js";
import { type IterationWork, SpeedModel } from "../../src/mock/simulation/speedModel.js";
import { VirtualClock } from "../../src/mock/simulation/VirtualClock.js";

interface Trace {
  started: number | null;
  tokens: number[];
  finish: SimFinish | null;
  exceeded: boolean;
}

function setup(options: SimulationOptions = {}) {
  const config = resolveSimulation(options);
  const clock = new VirtualClock();
  const logs: string[] = [];
  const ooms: number[] = [];
  const engine = new SimEngine(config, {
    speed: new SpeedModel(config),
    noise: new SimNoise(config.seed, config.noise, "k"),
    memory: simMemory(config),
    clock,
    hooks: { log: (l) => logs.push(l), outOfMemory: (_b, active) => ooms.push(active) },
  });
  let id = 0;
  const submit = (promptTokens: number, maxTokens: number): Trace => {
    const trace: Trace = { started: null, tokens: [], finish: null, exceeded: false };
    const n = id++;
    const request: SimRequest = {
      id: n,
      // Distinct words per request, so no prompt is served from a slot's cache.
      promptWords: Array.from({ length: promptTokens }, (_, i) => `r${n}w${i}`),
      maxTokens,
      stopAfter: null,
      cachePrompt: true,
      sink: {
        started: (_slot, at) => {
          trace.started = at;
        },
        token: (_i, at) => trace.tokens.push(at),
        finished: (r) => {
          trace.finish = r;
        },
        contextExceeded: () => {
          trace.exceeded = true;
        },
      },
    };
    engine.submit(request);
    return trace;
  };
  return { config, clock, engine, submit, logs, ooms };
}

const decodeGaps = (t: Trace) => t.tokens.slice(1).map((at, i) => at - (t.tokens[i] as number));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("SpeedModel", () => {
  const work = (decode: number[], prefill: { start: number; tokens: number }[] = []): IterationWork => ({
    decodeContexts: decode,
    prefill,
    sampled: decode.length,
  });

  it("decodes one sequence at --decode-tps and prefills a long prompt at about --prefill-tps", () => {
    const speed = new SpeedModel(resolveSimulation({ decodeTps: 40, prefillTps: 800 }));
    assert.ok(Math.abs(speed.iterationMs(work([0])) - 25) < 1e-3);
    const ms = speed.iterationMs({ decodeContexts: [], prefill: [{ start: 0, tokens: 2048 }], sampled: 1 });
    const tps = (2048 * 1000) / ms;
    assert.ok(tps > 700 && tps <= 800, `prefill ${tps.toFixed(0)} tok/s`);
  });

  it("batched decode: aggregate throughput grows sub-linearly, each sequence slows down", () => {
    const speed = new SpeedModel(resolveSimulation({ decodeTps: 30, prefillTps: 300 }));
    const aggregate = [1, 2, 4, 8, 16].map((b) => (b * 1000) / speed.iterationMs(work(Array(b).fill(100))));
    for (let i = 1; i < aggregate.length; i++) {
      const b = 2 ** i;
      assert.ok((aggregate[i] as number) > (aggregate[i - 1] as number), `aggregate grows: ${aggregate}`);
      assert.ok((aggregate[i] as number) < b * (aggregate[0] as number), `sub-linear: ${aggregate}`);
      assert.ok((aggregate[i] as number) / b < (aggregate[i - 1] as number) / (b / 2), "each sequence slows");
    }
    // Towards the prefill rate, never beyond it.
    assert.ok((aggregate[4] as number) < 300);
  });

  it("longer contexts decode more slowly, and a quantized KV cache reads faster but computes slower", () => {
    const f16 = new SpeedModel(resolveSimulation({}));
    const q8 = new SpeedModel(resolveSimulation({ cacheTypeK: "q8_0", cacheTypeV: "q8_0" }));
    assert.ok(f16.iterationMs(work([16000])) > f16.iterationMs(work([100])));
    assert.ok(
      q8.iterationMs(work([100])) > f16.iterationMs(work([100])),
      "q8_0 a little slower at short context",
    );
    assert.ok(q8.iterationMs(work([100])) < 1.1 * f16.iterationMs(work([100])), "only a little");
    assert.ok(q8.constants.kv_read_ms_per_token < f16.constants.kv_read_ms_per_token);
  });

  it("has interior optima: threads at the core count, ubatch and batch in the middle", () => {
    const cost = (o: SimulationOptions, w: IterationWork) =>
      new SpeedModel(resolveSimulation(o)).iterationMs(w);
    const prompt: IterationWork = { decodeContexts: [], prefill: [{ start: 0, tokens: 4096 }], sampled: 1 };
    const argmin = (values: number[], f: (v: number) => number) =>
      values.reduce((best, v) => (f(v) < f(best) ? v : best));
    const threads = [1, 2, 4, 6, 8, 12, 16];
    assert.equal(
      argmin(threads, (t) => cost({ cores: 8, threads: t }, prompt)),
      8,
    );
    assert.equal(
      argmin(threads, (t) => cost({ cores: 8, threads: t }, work([50, 50]))),
      8,
    );
    const ubatch = argmin([32, 64, 128, 256, 512, 1024, 2048], (u) =>
      cost({ ubatchSize: u, batchSize: 4096 }, prompt),
    );
    assert.ok(ubatch === 256 || ubatch === 512, `ubatch optimum ${ubatch}`);
    const batch = argmin([256, 512, 1024, 2048, 4096, 8192], (b) =>
      cost({ batchSize: b, ubatchSize: 256 }, work(Array(64).fill(50))),
    );
    assert.ok(batch > 256 && batch < 8192, `batch optimum ${batch}`);
    // "A little": the knobs' best beats the defaults by under 10 %.
    const best = cost({ ubatchSize: ubatch, batchSize: 1024 }, prompt);
    assert.ok(best < cost({}, prompt) && best > 0.9 * cost({}, prompt));
  });

  it("flash attention off slows long prompts; GPU layers speed everything up a little", () => {
    const longPrompt: IterationWork = {
      decodeContexts: [],
      prefill: [{ start: 8000, tokens: 512 }],
      sampled: 0,
    };
    const on = new SpeedModel(resolveSimulation({ flashAttn: "on" })).iterationMs(longPrompt);
    const off = new SpeedModel(resolveSimulation({ flashAttn: "off" })).iterationMs(longPrompt);
    assert.ok(off > on);
    const cpu = new SpeedModel(resolveSimulation({})).iterationMs(work([100]));
    const gpu = new SpeedModel(resolveSimulation({ nGpuLayers: -1 })).iterationMs(work([100]));
    assert.ok(gpu < cpu && gpu > 0.85 * cpu);
  });
});

describe("memory model", () => {
  it("counts weights, the whole KV cache at its types, and fails at the first allocation over budget", () => {
    const f16 = simMemory(
      resolveSimulation({ ctxSize: 8192, kvBytesPerToken: 1024 * 1024, modelSizeMiB: 100 }),
    );
    assert.equal(f16.kv_bytes, 8192 * 1024 * 1024);
    const q8 = simMemory(
      resolveSimulation({ ctxSize: 8192, kvBytesPerToken: 1024 * 1024, cacheTypeK: "q8_0" }),
    );
    assert.equal(q8.kv_bytes, Math.round((8192 * 1024 * 1024 * (1 + 34 / 64)) / 2));
    assert.equal(startupOom(f16), null);
    const budget = (mib: number) =>
      startupOom(
        simMemory(
          resolveSimulation({
            ctxSize: 1024,
            kvBytesPerToken: 1024 * 1024,
            modelSizeMiB: 100,
            memoryBudgetMiB: mib,
          }),
        ),
      );
    assert.equal(budget(99)?.stage, "weights");
    assert.equal(budget(1100)?.stage, "kv");
    assert.equal(budget(1124), null);
  });

  it("splits the context over the slots as llama.cpp does (padded to 256)", () => {
    assert.equal(resolveSimulation({ ctxSize: 4096, parallel: 4 }).slotContext, 1024);
    const odd = resolveSimulation({ ctxSize: 4096, parallel: 3 });
    assert.equal(odd.slotContext, 1536);
    assert.equal(odd.contextTokens, 4608);
    assert.equal(resolveSimulation({ ctxSize: 1000 }).slotContext, 1024);
  });

  it("refuses speeds no machine has", () => {
    assert.throws(() => resolveSimulation({ decodeTps: 500, prefillTps: 400 }), /decode-tps/);
  });
});

describe("SimEngine (virtual time)", () => {
  it("queues beyond the slots: the third request of two slots starts when a slot frees", () => {
    const { clock, submit } = setup({ parallel: 2, ctxSize: 8192, decodeTps: 50, prefillTps: 1000 });
    const a = submit(100, 20);
    const b = submit(100, 20);
    const c = submit(100, 20);
    clock.run();
    assert.equal(a.started, 0);
    assert.equal(b.started, 0);
    const firstEnd = Math.min(a.tokens.at(-1) as number, b.tokens.at(-1) as number);
    assert.equal(c.started, firstEnd);
    assert.ok((c.tokens[0] as number) > firstEnd);
    // Its server-side prompt time excludes the wait, as llama-server's does.
    assert.ok(Math.abs((c.finish?.prompt_ms ?? 0) - ((c.tokens[0] as number) - firstEnd)) < 1e-3);
  });

  it("TTFT grows with the prompt", () => {
    const ttfts = [32, 256, 1024, 3000].map((p) => {
      const { clock, submit } = setup({ ctxSize: 4096 });
      const t = submit(p, 2);
      clock.run();
      return t.tokens[0] as number;
    });
    for (let i = 1; i < ttfts.length; i++)
      assert.ok((ttfts[i] as number) > (ttfts[i - 1] as number), `${ttfts}`);
    // About prompt / prefill rate for a long prompt (300 tok/s by default).
    assert.ok(Math.abs((ttfts[3] as number) - 10_000) < 2_000, `${ttfts[3]} ms for 3000 tokens`);
  });

  it("a prompt being processed stalls the other sequences' decode steps", () => {
    const { clock, submit } = setup({ parallel: 2, ctxSize: 8192, batchSize: 512, ubatchSize: 512 });
    const a = submit(10, 40);
    clock.run(400);
    const before = decodeGaps(a).slice(-3);
    submit(2000, 2);
    clock.run();
    const gaps = decodeGaps(a);
    assert.ok(Math.max(...gaps) > 3 * mean(before), `gaps before ${before}, max after ${Math.max(...gaps)}`);
  });

  it("reports llama-server's timings: prompt from slot start to first token, generation from first to last", () => {
    const { clock, submit } = setup({});
    const t = submit(200, 10);
    clock.run();
    const f = t.finish as SimFinish;
    assert.equal(f.prompt_n, 200);
    assert.equal(f.predicted_n, 10);
    assert.equal(f.finish_reason, "length");
    assert.ok(Math.abs(f.prompt_ms - ((t.tokens[0] as number) - (t.started as number))) < 1e-3);
    assert.ok(Math.abs(f.predicted_ms - ((t.tokens[9] as number) - (t.tokens[0] as number))) < 1e-3);
  });

  it("stops at the slot's context (finish length, truncated) and refuses prompts that do not fit", () => {
    const { clock, submit } = setup({ ctxSize: 512 });
    const long = submit(500, 100);
    const tooLong = submit(512, 4);
    clock.run();
    assert.equal(long.finish?.truncated, true);
    assert.equal(long.tokens.length, 12);
    assert.equal(tooLong.exceeded, true);
    assert.equal(tooLong.tokens.length, 0);
  });

  it("runs out of memory when one more sequence's buffer does not fit", () => {
    const { clock, submit, ooms } = setup({
      parallel: 4,
      modelSizeMiB: 100,
      ctxSize: 1024,
      kvBytesPerToken: 1024,
      seqBufferMiB: 10,
      memoryBudgetMiB: 125,
    });
    for (let i = 0; i < 3; i++) submit(10, 5);
    clock.run();
    assert.deepEqual(ooms, [3]);
  });

  it("is deterministic for a seed, and the noise changes with it", () => {
    const run = (seed: number) => {
      const { clock, submit } = setup({ noise: 0.2, seed, parallel: 2 });
      const traces = [submit(100, 20), submit(300, 20)];
      clock.run();
      return traces.map((t) => t.tokens);
    };
    assert.deepEqual(run(5), run(5));
    assert.notDeepEqual(run(5), run(6));
  });
});

describe("simulateClosedLoop", () => {
  const workload = { requests: 24, concurrency: 4, promptTokens: 256, maxTokens: 32 };

  it("serves a closed loop in virtual time: more slots, more throughput; one slot queues", () => {
    const one = simulateClosedLoop({ parallel: 1, ctxSize: 4096 }, workload);
    const four = simulateClosedLoop({ parallel: 4, ctxSize: 4096 }, workload);
    assert.equal(one.status, "ok");
    assert.equal(one.finished, 24);
    assert.equal(four.finished, 24);
    assert.ok(
      four.output_tokens_per_s > 1.5 * one.output_tokens_per_s,
      `${one.output_tokens_per_s} vs ${four.output_tokens_per_s}`,
    );
    // With one slot, three of four clients wait: median TTFT far above a lone prompt's.
    const sorted = [...one.ttft_ms].sort((a, b) => a - b);
    assert.ok((sorted[12] as number) > 3 * (sorted[0] as number));
  });

  it("tells the failures apart: out of memory at start, under load, and refused knobs", () => {
    assert.equal(simulateClosedLoop({ ctxSize: 65536, memoryBudgetMiB: 800 }, workload).status, "oom_start");
    const underLoad = simulateClosedLoop(
      { parallel: 4, ctxSize: 4096, memoryBudgetMiB: 470, seqBufferMiB: 10 },
      workload,
    );
    assert.equal(underLoad.status, "oom_load");
    assert.equal(simulateClosedLoop({ cacheTypeV: "q8_0", flashAttn: "off" }, workload).status, "bad_args");
  });
});
