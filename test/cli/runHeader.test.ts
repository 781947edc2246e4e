import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MockServer } from "../../src/mock/MockServer.js";
import { runCli } from "./runCli.js";

describe("the line before a server run", () => {
  let dir: string;
  let mock: MockServer;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-header-"));
    mock = new MockServer({ ttftMs: 2, itlMs: 1, timings: true });
    url = await mock.start();
  });
  after(async () => {
    await mock.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("says what is measured, the workload and where results go, then the summary shows what was sampled", async () => {
    const db = join(dir, "runs.sqlite");
    const run = await runCli([
      "bench",
      "--url",
      url,
      "--model",
      "m",
      "-n",
      "3",
      "-c",
      "2",
      "--max-tokens",
      "5",
      "--prompt-tokens",
      "12",
      "--db",
      db,
      "--pid",
      String(process.pid),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stderr.split("\n");
    assert.equal(
      lines[0],
      `measuring ${url} (model "m", chat API) | 3 requests, concurrency 2, 12 prompt + 5 output tokens | results -> ${db}`,
    );
    assert.doesNotMatch(run.stdout, /^measuring /m);
    // The mock runs in this test's process, sampled through --pid.
    assert.match(
      run.stdout,
      new RegExp(
        `^sampled process ${process.pid}: peak RSS [\\d.]+ (MiB|GiB), mean CPU \\d+ % of a core`,
        "m",
      ),
    );
    assert.match(run.stdout, /server-reported decode/);
  });
});
