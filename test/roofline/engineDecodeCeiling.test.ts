import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { EngineGridPoint } from "../../src/engine/EngineGrid.js";
import type { EngineModelInfo } from "../../src/engine/EngineModelInfo.js";
import { engineDecodeCeiling } from "../../src/engine/engineDecodeCeiling.js";
import { inspectModel, type ModelInspection } from "../../src/gguf/inspectModel.js";
import { parseCacheSize } from "../../src/roofline/lastLevelCacheBytes.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";

const point = (type_k: string, type_v: string, n_depth: number) =>
  ({
    threads: 1,
    batch_size: 512,
    ubatch_size: 512,
    ctx_size: null,
    gpu_layers: { layers: 0 },
    flash_attn: false,
    type_k,
    type_v,
    parallel: 1,
    n_depth,
  }) as unknown as EngineGridPoint & { n_depth: number };
const info = {} as EngineModelInfo;

describe("engineDecodeCeiling", () => {
  let dir: string;
  let moe: ModelInspection;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-ceiling-"));
    moe = await inspectModel(
      (await synthesizeModel({ preset: "tiny-moe", type: "q8_0", out: join(dir, "moe.gguf") })).path,
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("divides bandwidth by the active weights plus the KV cache in the point's cache types", () => {
    const bw = 10e9;
    const ceiling = engineDecodeCeiling(moe, bw, null);
    const weights = moe.bytes_per_token.total_bytes;
    // Only the active experts are read: fewer bytes than all expert tensors.
    assert.ok(moe.bytes_per_token.expert_active_bytes < moe.bytes_per_token.expert_total_bytes);
    assert.ok(Math.abs((ceiling(info, point("f16", "f16", 0)) as number) - bw / weights) < 1e-6);
    const hp = moe.hyperparameters;
    const kvF16 =
      2 *
      (hp.block_count as number) *
      (hp.head_count_kv as number) *
      ((hp.key_length as number) + (hp.value_length as number));
    assert.equal(kvF16, moe.kv_cache.bytes_per_token);
    const at1k = ceiling(info, point("f16", "f16", 1024)) as number;
    assert.ok(Math.abs(at1k - bw / (weights + kvF16 * 1024)) < 1e-6);
    // Q8_0 K cache: 34 bytes per 32 elements instead of 64.
    const q8 = ceiling(info, point("q8_0", "f16", 1024)) as number;
    assert.ok(q8 > at1k);
  });

  it("gives no ceiling when a token's bytes fit in the last-level cache", () => {
    const ceiling = engineDecodeCeiling(moe, 10e9, 64 * 2 ** 20);
    assert.equal(ceiling(info, point("f16", "f16", 0)), null);
  });

  it("parses sysfs cache sizes", () => {
    assert.equal(parseCacheSize("32768K\n"), 32 * 2 ** 20);
    assert.equal(parseCacheSize("1M"), 2 ** 20);
    assert.equal(parseCacheSize("512"), 512);
    assert.equal(parseCacheSize("?"), null);
  });
});
