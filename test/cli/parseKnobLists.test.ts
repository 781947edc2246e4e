import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  parseCacheTypeList,
  parseFlashAttnList,
  parseGpuLayersList,
  parsePgList,
} from "../../src/cli/parseKnobLists.js";
import {
  benchTestName,
  type EngineKnobs,
  expandGrid,
  expandTests,
  resolveGpuLayers,
} from "../../src/engine/EngineGrid.js";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { parseIntList } from "../../src/search/parseListValues.js";

const invalid = (fn: () => unknown, flag: string) =>
  assert.throws(
    fn,
    (e: unknown) => isTokbenchError(e, "INVALID_ARGUMENT") && e.message.startsWith(`--${flag}:`),
  );

describe("parseIntList", () => {
  it("reads lists, ranges, additive and multiplicative steps, as llama-bench", () => {
    assert.deepEqual(parseIntList("threads", "1,2,4", 1), [1, 2, 4]);
    assert.deepEqual(parseIntList("threads", "1-4", 1), [1, 2, 3, 4]);
    assert.deepEqual(parseIntList("threads", "1-8+2", 1), [1, 3, 5, 7]);
    assert.deepEqual(parseIntList("batch-size", "1-64*4", 1), [1, 4, 16, 64]);
    assert.deepEqual(parseIntList("threads", "2,4-8+4,1", 1), [2, 4, 8, 1]);
    assert.deepEqual(parseIntList("threads", ["1,2", "2", 3], 1), [1, 2, 3]);
    assert.deepEqual(parseIntList("threads", undefined, 1), []);
    assert.deepEqual(parseIntList("pp", "0,512", 0), [0, 512]);
    assert.deepEqual(parseIntList("threads", "5-5", 1), [5]);
  });
  it("rejects non-numeric, zero, negative, reversed and runaway values", () => {
    invalid(() => parseIntList("threads", "abc", 1), "threads");
    invalid(() => parseIntList("threads", "0", 1), "threads");
    invalid(() => parseIntList("threads", "-2", 1), "threads");
    invalid(() => parseIntList("threads", "1.5", 1), "threads");
    invalid(() => parseIntList("threads", "1,,2", 1), "threads");
    invalid(() => parseIntList("threads", "8-1", 1), "threads");
    invalid(() => parseIntList("threads", "1-8+0", 1), "threads");
    invalid(() => parseIntList("batch-size", "1-8*1", 1), "batch-size");
    invalid(() => parseIntList("ctx-size", "1-100000", 1), "ctx-size");
    invalid(() => parseIntList("threads", "", 1), "threads");
  });
});

describe("other knob parsers", () => {
  it("reads GPU layers as counts and percentages", () => {
    assert.deepEqual(parseGpuLayersList("gpu-layers", "0,25%,100%,99"), [
      { layers: 0 },
      { percent: 25 },
      { percent: 100 },
      { layers: 99 },
    ]);
    invalid(() => parseGpuLayersList("gpu-layers", "150%"), "gpu-layers");
    invalid(() => parseGpuLayersList("gpu-layers", "x%"), "gpu-layers");
    assert.equal(resolveGpuLayers({ percent: 50 }, 33), 17);
    assert.equal(resolveGpuLayers({ percent: 0 }, 33), 0);
    assert.equal(resolveGpuLayers({ layers: 99 }, 33), 33);
  });
  it("reads flash attention, cache types and pg pairs", () => {
    assert.deepEqual(parseFlashAttnList("flash-attn", "0,1,auto,on"), [false, true, "auto"]);
    invalid(() => parseFlashAttnList("flash-attn", "2"), "flash-attn");
    assert.deepEqual(parseCacheTypeList("cache-type-k", "F16,q8_0"), ["f16", "q8_0"]);
    invalid(() => parseCacheTypeList("cache-type-k", "q3_k"), "cache-type-k");
    assert.deepEqual(parsePgList("pg", ["512,128", "64,16;8,8"]), [
      [512, 128],
      [64, 16],
      [8, 8],
    ]);
    invalid(() => parsePgList("pg", "512"), "pg");
    invalid(() => parsePgList("pg", "512,0"), "pg");
  });
});

describe("expandGrid and expandTests", () => {
  const knobs: EngineKnobs = {
    threads: [1, 2],
    batch_size: [512, 2048],
    ubatch_size: [512],
    ctx_size: [null],
    gpu_layers: [{ layers: 0 }, { percent: 100 }],
    flash_attn: [false],
    type_k: ["f16", "q8_0"],
    type_v: ["f16"],
    parallel: [1],
  };
  it("is the cartesian product, GPU layers outermost", () => {
    const grid = expandGrid(knobs);
    assert.equal(grid.length, 2 * 2 * 2 * 2);
    assert.deepEqual(grid[0], {
      threads: 1,
      batch_size: 512,
      ubatch_size: 512,
      ctx_size: null,
      gpu_layers: { layers: 0 },
      flash_attn: false,
      type_k: "f16",
      type_v: "f16",
      parallel: 1,
    });
    assert.ok(grid.slice(0, 8).every((p) => "layers" in p.gpu_layers));
    assert.ok(grid.slice(8).every((p) => "percent" in p.gpu_layers));
    assert.equal(new Set(grid.map((p) => JSON.stringify(p))).size, grid.length);
    assert.deepEqual(expandGrid({ ...knobs, threads: [] }), []);
  });
  it("orders tests per depth: pp, then tg, then pg; skips zero lengths", () => {
    const tests = expandTests({ pp: [64, 0], tg: [32], pg: [[16, 8]], depth: [0, 128] });
    assert.deepEqual(tests.map(benchTestName), [
      "pp64",
      "tg32",
      "pp16+tg8",
      "pp64 @ d128",
      "tg32 @ d128",
      "pp16+tg8 @ d128",
    ]);
    assert.deepEqual(tests[2], { n_prompt: 16, n_gen: 8, n_depth: 0 });
    assert.deepEqual(expandTests({ pp: [8], tg: [], pg: [], depth: [] }), [
      { n_prompt: 8, n_gen: 0, n_depth: 0 },
    ]);
  });
});
