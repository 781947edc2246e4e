import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { MockServer } from "../../src/mock/MockServer.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { mockBenchArgs, startCli, waitFor } from "./runCli.js";

const MAX_TOKENS = 6;

describe("a run killed with SIGKILL half-way", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-sigkill-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps every request it finished in the database", async () => {
    // The mock records when it sent the last chunk of each request: any request whose stream
    // ended well before the kill was finished by the client too and must be in the database.
    const finishedAt: number[] = [];
    const mock = new MockServer({
      ttftMs: 2,
      itlMs: 2,
      onChunkSent(_id, chunkIndex, _tokens, atMs) {
        if (chunkIndex === MAX_TOKENS - 1) finishedAt.push(atMs);
      },
    });
    const url = await mock.start();
    const db = join(dir, "runs.sqlite");
    const started = startCli(
      mockBenchArgs(url, db, { requests: 100_000, concurrency: 4, maxTokens: MAX_TOKENS }),
    );
    try {
      await waitFor("60 finished requests", () => finishedAt.length >= 60, 30_000);
      const killAt = performance.now();
      started.child.kill("SIGKILL");
      assert.equal((await started.done).signal, "SIGKILL");
      const settledBeforeKill = finishedAt.filter((t) => t < killAt - 500).length;

      const store = RunStore.open(db);
      try {
        const [entry] = store.listRuns();
        assert.ok(entry, "the run row was written when the run started");
        const run = store.getRun(entry.run_id);
        assert.equal(run.status, "incomplete");
        assert.ok(
          run.requests.length >= settledBeforeKill,
          `${run.requests.length} stored, ${settledBeforeKill} finished > 500 ms before the kill`,
        );
        assert.ok(run.requests.length <= finishedAt.length);
        for (const r of run.requests) {
          assert.equal(r.error, null);
          assert.equal(r.output_tokens, MAX_TOKENS);
          assert.ok((r.ttft_ms ?? 0) >= 2);
        }
      } finally {
        store.close();
      }
    } finally {
      started.child.kill("SIGKILL");
      await mock.close();
    }
  });
});
