import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { ggmlTypeByName } from "../../src/gguf/GgmlType.js";
import type { PlannedTensor } from "../../src/synth/planTensors.js";
import { SynthWorkerPool } from "../../src/synth/SynthWorkerPool.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { type SynthChunkJob, tensorChunkJobs, tensorChunks } from "../../src/synth/tensorChunks.js";

async function sha256(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

describe("SynthWorkerPool", () => {
  const q4 = ggmlTypeByName("Q4_0");
  assert.ok(q4);
  const tensor: PlannedTensor = {
    name: "token_embd.weight",
    shape: [512, 5000],
    quantizable: true,
    init: { kind: "uniform", scale: 0.05 },
  };

  it("yields the chunks in job order with the single-thread bytes, through a small window", async () => {
    const pool = new SynthWorkerPool(3);
    try {
      const parts: Buffer[] = [];
      for await (const chunk of pool.encodeInOrder(tensorChunkJobs(tensor, q4, 9), 2)) {
        parts.push(Buffer.from(chunk));
      }
      const copies: Buffer[] = [];
      for (const chunk of tensorChunks(tensor, q4, 9)) copies.push(Buffer.from(chunk));
      const single = Buffer.concat(copies);
      assert.equal(parts.length, 3);
      assert.ok(Buffer.concat(parts).equals(single));
    } finally {
      await pool.close();
    }
  });

  it("fails the stream with INTERNAL when a worker cannot encode a chunk, and rejects after close", async () => {
    const pool = new SynthWorkerPool(2);
    const good = [...tensorChunkJobs(tensor, q4, 1)];
    const bad: SynthChunkJob = { ...(good[0] as SynthChunkJob), typeName: "Q4_K" };
    try {
      const seen: number[] = [];
      await assert.rejects(
        (async () => {
          for await (const chunk of pool.encodeInOrder([...good, bad, ...good], 4)) seen.push(chunk.length);
        })(),
        (e: unknown) => isTokbenchError(e, "INTERNAL") && /Q4_K/.test((e as Error).message),
      );
      // The first failure fails every chunk still pending (the file is lost anyway): nothing at or
      // after the bad chunk may come out.
      assert.ok(seen.length <= good.length, `${seen.length} chunks came out`);
    } finally {
      await pool.close();
    }
    await assert.rejects(pool.encode(good[0] as SynthChunkJob), (e: unknown) =>
      isTokbenchError(e, "INTERNAL"),
    );
  });
});

describe("synthesizeModel threads", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-synth-pool-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("writes the same bytes with 1, 2 and 3 threads", async () => {
    for (const type of ["q4_0", "f16"] as const) {
      const hashes: string[] = [];
      for (const threads of [1, 2, 3]) {
        const r = await synthesizeModel({
          preset: "tiny",
          type,
          seed: 3,
          threads,
          out: join(dir, `${type}-${threads}.gguf`),
        });
        hashes.push(await sha256(r.path));
      }
      assert.equal(new Set(hashes).size, 1, `${type}: ${hashes.join(" ")}`);
    }
  });

  it("rejects a bad thread count, and cleans up (no temp file, workers ended) when the write fails", async () => {
    await assert.rejects(
      synthesizeModel({ preset: "tiny", out: join(dir, "x.gguf"), threads: 0 }),
      (e: unknown) => isTokbenchError(e, "INVALID_ARGUMENT"),
    );
    const out = join(dir, "missing-dir", "x.gguf");
    await assert.rejects(synthesizeModel({ preset: "tiny", out, threads: 2 }), (e: unknown) =>
      isTokbenchError(e, "FILE_UNWRITABLE"),
    );
    assert.ok(!(await readdir(dir)).some((f) => f.includes(".tmp-")));
  });
});
