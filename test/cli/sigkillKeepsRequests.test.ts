import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MockServer } from "../../src/mock/MockServer.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { CLI, mockBenchArgs } from "./runCli.js";

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
    const child = spawn(
      process.execPath,
      [CLI, ...mockBenchArgs(url, db, { requests: 100_000, concurrency: 4, maxTokens: MAX_TOKENS })],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("exit", (_code, signal) => resolve(signal)),
    );
    try {
      const deadline = performance.now() + 30_000;
      while (finishedAt.length < 60 && performance.now() < deadline) await sleep(20);
      assert.ok(finishedAt.length >= 60, `the run did not get going: ${stderr}`);
      const killAt = performance.now();
      child.kill("SIGKILL");
      assert.equal(await exited, "SIGKILL");
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
      child.kill("SIGKILL");
      await mock.close();
    }
  });
});
