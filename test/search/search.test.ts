import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { makeAxis } from "../../src/search/Axis.js";
import { cartesianProduct, pointKey, productSize } from "../../src/search/cartesianProduct.js";
import { atLeastAsHeavy, compareLoad, lightestFirst } from "../../src/search/loadOrder.js";
import { parseNumberList } from "../../src/search/parseListValues.js";

describe("cartesianProduct", () => {
  it("nests the first axis outermost and counts without building", () => {
    const axes = [
      { name: "ctx", values: [2048, 8192] },
      { name: "fa", values: ["on", "off"] },
      { name: "c", values: [1, 4, 16] },
    ];
    const points = cartesianProduct(axes);
    assert.equal(points.length, 12);
    assert.equal(productSize(axes), 12);
    assert.deepEqual(points[0], { ctx: 2048, fa: "on", c: 1 });
    assert.deepEqual(points[1], { ctx: 2048, fa: "on", c: 4 });
    assert.deepEqual(points[3], { ctx: 2048, fa: "off", c: 1 });
    assert.deepEqual(points[11], { ctx: 8192, fa: "off", c: 16 });
    assert.equal(new Set(points.map((p) => pointKey(axes, p))).size, 12);
    assert.deepEqual(cartesianProduct([{ name: "a", values: [] }, ...axes]), []);
  });
});

describe("the heavier-than order", () => {
  const ctx = makeAxis("ctx", [8192, 2048, 32768]);
  const parallel = makeAxis("parallel", [4, 1]);
  const threads = makeAxis("threads", [2, 1], { order: "none" });
  const types = makeAxis("type_k", ["f16", "q4_0", "q8_0"], {
    rank: (v) => ({ q4_0: 4.5, q8_0: 8.5, f16: 16 })[v as string] ?? 0,
  });
  const axes = [ctx, parallel, threads, types];

  it("sorts ordered axes lightest first and keeps unordered ones as given", () => {
    assert.deepEqual(ctx.values, [2048, 8192, 32768]);
    assert.deepEqual(parallel.values, [1, 4]);
    assert.deepEqual(threads.values, [2, 1]);
    assert.deepEqual(types.values, ["q4_0", "q8_0", "f16"]);
    assert.equal(makeAxis("model", ["a.gguf", "b.gguf"]).order, "none");
  });

  it("compares points: heavier on every ordered axis, equal on unordered ones", () => {
    const base = { ctx: 8192, parallel: 1, threads: 2, type_k: "q8_0" };
    assert.equal(compareLoad(axes, { ...base, ctx: 32768 }, base), "heavier");
    assert.equal(compareLoad(axes, { ...base, ctx: 32768, parallel: 4, type_k: "f16" }, base), "heavier");
    assert.equal(compareLoad(axes, base, { ...base, parallel: 4 }), "lighter");
    assert.equal(compareLoad(axes, base, { ...base }), "equal");
    // Heavier on one axis and lighter on another: neither.
    assert.equal(
      compareLoad(axes, { ...base, ctx: 32768, parallel: 1 }, { ...base, parallel: 4 }),
      "incomparable",
    );
    // Another thread count is another configuration, whatever the other axes say.
    assert.equal(compareLoad(axes, { ...base, ctx: 32768, threads: 1 }, base), "incomparable");
    assert.equal(atLeastAsHeavy(axes, base, base), true);
    assert.equal(atLeastAsHeavy(axes, base, { ...base, ctx: 2048 }), true);
    assert.equal(atLeastAsHeavy(axes, { ...base, ctx: 2048 }, base), false);
  });

  it("orders points so that none precedes a point it is heavier than", () => {
    const points = cartesianProduct(axes);
    const ordered = lightestFirst(axes, points);
    assert.equal(ordered.length, points.length);
    for (let i = 0; i < ordered.length; i++) {
      for (let j = i + 1; j < ordered.length; j++) {
        assert.notEqual(
          compareLoad(axes, ordered[i] as never, ordered[j] as never),
          "heavier",
          `${JSON.stringify(ordered[i])} came before the lighter ${JSON.stringify(ordered[j])}`,
        );
      }
    }
    assert.deepEqual(ordered[0], { ctx: 2048, parallel: 1, threads: 2, type_k: "q4_0" });
  });
});

describe("parseNumberList", () => {
  it("reads decimals and rejects what is not a number", () => {
    assert.deepEqual(parseNumberList("rate", "0.5,1,2.5,1", 0.001), [0.5, 1, 2.5]);
    assert.deepEqual(parseNumberList("rate", ["4", 8], 0.001), [4, 8]);
    for (const bad of ["abc", "1-4", "0", "", "1,,2", "NaN", "Infinity"]) {
      assert.throws(
        () => parseNumberList("rate", bad, 0.001),
        (e: unknown) => isTokbenchError(e, "INVALID_ARGUMENT") && e.message.startsWith("--rate:"),
        bad,
      );
    }
  });
});
