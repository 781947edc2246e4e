import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { getMemoryBandwidth } from "../../src/roofline/getMemoryBandwidth.js";
import { measureMemoryBandwidth } from "../../src/roofline/measureMemoryBandwidth.js";
import { ceilingEfficiency, decodeCeiling, prefillCeiling } from "../../src/roofline/rooflineMath.js";

describe("roofline math", () => {
  it("decode ceiling = bandwidth / (weights + KV × context)", () => {
    // 4 GB of weights, 128 KiB of KV per token, 8192 tokens cached, 100 GB/s.
    const c = decodeCeiling({
      weightBytesPerToken: 4e9,
      kvBytesPerToken: 131_072,
      contextLength: 8192,
      bandwidthBytesPerSecond: 100e9,
    });
    assert.equal(c.bytes_per_token, 4e9 + 131_072 * 8192);
    assert.ok(Math.abs(c.tokens_per_second - 100e9 / 5_073_741_824) < 1e-9);
    assert.ok(Math.abs(c.ms_per_token - 50.73741824) < 1e-9);
  });

  it("prefill ceiling = FLOP/s / (2 × active params + attention over half the prompt)", () => {
    // 1e9 active parameters, attention 2 × 16 layers × 32 heads × 128 = 131072 FLOP/position, 1000 tokens.
    const p = prefillCeiling({
      activeParameters: 1e9,
      promptLength: 1000,
      attentionFlopsPerPosition: 131_072,
      flopsPerSecond: 1e12,
    });
    assert.equal(p.flops_per_token, 2e9 + 131_072 * 500);
    assert.ok(Math.abs(p.tokens_per_second - 1e12 / 2_065_536_000) < 1e-9);
  });

  it("efficiency and the above-ceiling flag", () => {
    assert.deepEqual(ceilingEfficiency(50, 100), { efficiency_pct: 50, above_ceiling: false });
    assert.equal(ceilingEfficiency(104, 100).above_ceiling, false);
    assert.equal(ceilingEfficiency(106, 100).above_ceiling, true);
  });

  it("rejects nonsense inputs", () => {
    assert.throws(
      () =>
        decodeCeiling({
          weightBytesPerToken: 0,
          kvBytesPerToken: 0,
          contextLength: 0,
          bandwidthBytesPerSecond: 1,
        }),
      (e: unknown) => isTokbenchError(e, "INVALID_ARGUMENT"),
    );
  });
});

describe("memory bandwidth probe", () => {
  it("measures a plausible figure and caches it per machine", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tokbench-bw-"));
    try {
      // An idle machine as far as caching goes (a figure probed under load is not cached; tested
      // in getMemoryBandwidth.test), so this test does not depend on what else runs here.
      const opts = {
        threads: 1,
        bytesPerThread: 32 * 1024 * 1024,
        passes: 1,
        rounds: 2,
        cacheDir: dir,
        loadAverage: () => 0,
      };
      const first = await getMemoryBandwidth(opts);
      assert.equal(first.cached, false);
      // Anything from an old laptop (>1 GB/s) to an HBM accelerator host (<10 TB/s).
      assert.ok(
        first.bytes_per_second > 1e9 && first.bytes_per_second < 1e13,
        String(first.bytes_per_second),
      );
      const second = await getMemoryBandwidth(opts);
      assert.equal(second.cached, true);
      assert.equal(second.bytes_per_second, first.bytes_per_second);
      const stored = JSON.parse(await readFile(join(dir, "memory-bandwidth.json"), "utf8"));
      assert.equal(stored.bytes_per_second, first.bytes_per_second);
      const again = await getMemoryBandwidth({ ...opts, refresh: true });
      assert.equal(again.cached, false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("validates its options", async () => {
    await assert.rejects(measureMemoryBandwidth({ threads: 0 }), (e: unknown) =>
      isTokbenchError(e, "INVALID_ARGUMENT"),
    );
  });
});
