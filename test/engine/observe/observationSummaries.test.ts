import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ExpertUsageCounter } from "../../../src/engine/observe/ExpertUsageCounter.js";
import type { ObservedDecode } from "../../../src/engine/observe/GraphObserver.js";
import { LayerTimingCollector } from "../../../src/engine/observe/LayerTimingCollector.js";
import { checkExpertUsage } from "../../../src/engine/observe/runObservedTests.js";
import { heatChar } from "../../../src/output/terminal/renderObservation.js";

/** An observed decode with the given counts (layer-major) and per-layer times. */
function decode(over: Partial<ObservedDecode>): ObservedDecode {
  return {
    observed: true,
    n_tokens: 1,
    status: 0,
    computes: 1,
    syncs: 0,
    t_start_ms: 0,
    t_end_ms: 1,
    decode_ms: 1,
    cpu_ms: 1,
    input_ms: 0,
    output_ms: 0,
    observer_ms: 0,
    layer_ms: new Float64Array(0),
    layer_spans: new Int32Array(0),
    expert_counts: null,
    tokens_routed: null,
    bad_ids: 0,
    spans: null,
    tensors: null,
    ...over,
  };
}

describe("ExpertUsageCounter", () => {
  const shape = { n_layer: 3, n_expert: 4, n_expert_used: 2, moe_layers: [1, 2] };

  it("keeps prompt and generated counts apart, skips dense layers, ranks hot and cold pairs", () => {
    const counter = new ExpertUsageCounter(shape);
    // Layer 0 is dense (no router); layers 1 and 2 route 3 prompt tokens, then 1 generated token.
    counter.add(
      decode({
        n_tokens: 3,
        expert_counts: Int32Array.of(0, 0, 0, 0, 3, 3, 0, 0, 1, 1, 0, 0),
        tokens_routed: Int32Array.of(0, 3, 1),
      }),
      "prefill",
    );
    counter.add(
      decode({
        n_tokens: 1,
        expert_counts: Int32Array.of(0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1),
        tokens_routed: Int32Array.of(0, 1, 1),
      }),
      "decode",
    );
    const u = counter.summary();
    assert.equal(u.prompt_tokens, 3);
    assert.equal(u.generated_tokens, 1);
    assert.deepEqual(
      u.layers.map((l) => [l.layer, l.counts, l.prompt_counts, l.generated_counts, l.tokens, l.selections]),
      [
        [1, [3, 4, 1, 0], [3, 3, 0, 0], [0, 1, 1, 0], 4, 8],
        [2, [1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1], 2, 4],
      ],
    );
    assert.equal(u.total_selections, 12);
    assert.deepEqual(checkExpertUsage(u, shape, counter.unreadable), []);
    assert.deepEqual(u.hot[0], { layer: 1, expert: 1, count: 4, share_pct: 50, vs_uniform: 2 });
    assert.deepEqual(u.cold[0], { layer: 1, expert: 3, count: 0, share_pct: 0, vs_uniform: 0 });
    // Layer 1 needs 2 experts for 80 % of its selections (4 + 3 of 8), layer 2 all 4.
    assert.deepEqual(
      u.layers.map((l) => l.experts_for_80pct),
      [2, 4],
    );
    assert.deepEqual(u.override_tensor?.cpu_first, [1, 2]);
    assert.deepEqual(u.override_tensor?.cpu_layers, [1]);
    assert.equal(u.override_tensor?.pattern, "blk\\.(1)\\.ffn_(up|gate|down)_exps\\.weight=CPU");
  });

  it("the consistency check names a layer whose counts do not match its tokens", () => {
    const counter = new ExpertUsageCounter(shape);
    counter.add(
      decode({
        expert_counts: Int32Array.of(0, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0),
        tokens_routed: Int32Array.of(0, 1, 1),
        bad_ids: 1,
      }),
      "decode",
    );
    const problems = checkExpertUsage(counter.summary(), shape, counter.unreadable);
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? "", /1 router outputs could not be counted/);
    assert.match(problems[1] ?? "", /layer 1: 1 selections for 1 tokens x 2 experts/);
    const wrongLayers = checkExpertUsage(counter.summary(), { ...shape, moe_layers: [0, 1, 2] }, 0);
    assert.match(wrongLayers.at(-1) ?? "", /differ from the model's router layers/);
  });
});

describe("LayerTimingCollector", () => {
  it("averages layers per test and phase, shares of llama_decode, overhead as the median paired ratio", () => {
    const c = new LayerTimingCollector(2);
    for (let i = 0; i < 20; i++) {
      // One pair in the middle hit by a load spike on the unobserved side: the median ignores it.
      c.addPair(
        "tg20",
        "decode",
        {
          ms: 3 + i / 100,
          decode: decode({
            decode_ms: 2,
            input_ms: 0.2,
            output_ms: 0.3,
            layer_ms: Float64Array.of(1, 0.5 + i / 1000),
          }),
        },
        { ms: 2.5, decode_ms: i === 10 ? 8 : 1.6 },
      );
    }
    c.addEngineCounter("tg20", "decode", 40, 20);
    const [t] = c.summary();
    assert.ok(t !== undefined);
    assert.equal(t.steps, 20);
    assert.equal(t.layers[0]?.ms_mean, 1);
    assert.equal(t.layers[0]?.share_pct, 50);
    assert.equal(t.layers[1]?.ms_p95, 0.5 + 18 / 1000, "nearest rank: the 19th of 20 sorted samples");
    assert.ok(Math.abs(t.outside_layers_ms - 0.5) < 1e-12);
    assert.equal(t.engine_ms_mean, 2);
    assert.ok(Math.abs((t.unobserved_decode_ms_mean ?? 0) - (19 * 1.6 + 8) / 20) < 1e-12);
    assert.ok(Math.abs((t.overhead_pct ?? 0) - 25) < 1e-9, "2 ms observed vs 1.6 ms unobserved");
    assert.equal(t.unobserved_step_ms_mean, 2.5);
  });

  it("cancels the advantage of running second by pairing both orders", () => {
    const c = new LayerTimingCollector(1);
    // Observing costs 25 %; whichever generation runs second is 10 % faster (warm caches).
    const step = (ms: number) => ({ ms, decode: decode({ decode_ms: ms, layer_ms: Float64Array.of(ms) }) });
    c.addPair("tg1", "decode", step(2 * 0.9), { ms: 1.6, decode_ms: 1.6 }, false);
    c.addPair("tg1", "decode", step(2), { ms: 1.6 * 0.9, decode_ms: 1.6 * 0.9 }, true);
    assert.ok(Math.abs((c.summary()[0]?.overhead_pct ?? 0) - 25) < 1e-9);
  });

  it("gives no overhead without unobserved llama_decode times, and no p95 under 20 steps", () => {
    const c = new LayerTimingCollector(1);
    c.addPair(
      "pp64",
      "prefill",
      { ms: 12, decode: decode({ n_tokens: 64, decode_ms: 10, layer_ms: Float64Array.of(9) }) },
      { ms: 10, decode_ms: null },
    );
    const [t] = c.summary();
    assert.equal(t?.overhead_pct, null);
    assert.equal(t?.unobserved_step_ms_mean, 10);
    assert.equal(t?.layers[0]?.ms_p95, null);
    assert.equal(t?.tokens_per_step, 64);
  });
});

it("heatChar: blank for never, '=' just under the uniform share, '@' at 4x and more", () => {
  assert.equal(heatChar(0, 10), " ");
  assert.equal(heatChar(1, 10), ".");
  assert.equal(heatChar(9, 10), "=");
  assert.equal(heatChar(10, 10), "+");
  assert.equal(heatChar(40, 10), "@");
  assert.equal(heatChar(3, 0), " ");
});
