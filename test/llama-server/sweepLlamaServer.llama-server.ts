/**
 * The sweep against a real llama-server (built from the llama.cpp source bundled in
 * node-llama-cpp: `npm run test:llama-server` builds it when missing) serving a synthetic model:
 * context size x slots x concurrency on a memory budget this test sets, so that
 * - the largest context is rejected by the memory pre-check (`wont_fit`, never launched);
 * - the next one passes the estimate but runs out of memory for real: the server's address space
 *   is capped (`--server-memory-limit`, ulimit -v) below what its KV cache needs, so llama.cpp's
 *   allocation fails and the server exits with its own out-of-memory lines (`oom`); the heavier
 *   configuration is skipped;
 * - queueing behind one slot pushes TTFT p95 over the budget (`infeasible`), two slots do not.
 * The address-space cap and the TTFT budget are calibrated on this machine first.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runBenchmark } from "../../src/benchmark/runBenchmark.js";
import { inspectModel } from "../../src/gguf/inspectModel.js";
import { findFreePort } from "../../src/servers/ports.js";
import { llamaServerProvider } from "../../src/servers/providers/llamaServer.js";
import { ServerProcess } from "../../src/servers/ServerProcess.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { collectMachineInfo } from "../../src/system/machineInfo.js";
import { OpenAiTarget } from "../../src/targets/openai/OpenAiTarget.js";
import { runCli } from "../cli/runCli.js";
import { findProcesses } from "../servers/fixtures/findProcesses.js";

const LLAMA_SERVER = process.env.LLAMA_SERVER;
const MAX_TOKENS = 32;
const CONCURRENCY = 32;

function vmPeakBytes(pid: number): number {
  const match = /^VmPeak:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match?.[1]) * 1024;
}

/** llama-server processes serving a model from `dir`, found in /proc. */
function serversOf(dir: string): Promise<number[]> {
  return findProcesses(
    (argv) => argv.some((a) => a.endsWith("llama-server")) && argv.some((a) => a.startsWith(dir)),
  );
}

describe("tokbench sweep against a real llama-server", {
  skip: LLAMA_SERVER === undefined ? "LLAMA_SERVER is not set" : false,
}, () => {
  let dir: string;
  let model: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-llama-sweep-"));
    // 57 M parameters: slow enough (a few ms a token on one thread) that tokens arrive one by one,
    // not in bursts the gate would rightly call untrusted. 24 KiB of KV cache per token (16 KV heads
    // of 48 in 8 layers), so that KV caches of different contexts differ by far more than the
    // address space a server's threads take.
    model = join(dir, "mid.gguf");
    await synthesizeModel({
      preset: "tiny",
      type: "q4_0",
      out: model,
      shape: {
        blockCount: 8,
        embeddingLength: 768,
        feedForwardLength: 2048,
        headCount: 16,
        headCountKv: 16,
        headDim: 48,
      },
    });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Launches llama-server at one context, sends a few requests, returns its peak address space and fastest e2e. */
  async function calibrate(ctx: number): Promise<{ vmPeak: number; e2eMs: number }> {
    const port = await findFreePort("127.0.0.1");
    const command = llamaServerProvider.command({
      program: [LLAMA_SERVER as string],
      model,
      host: "127.0.0.1",
      port,
      knobs: { ctx, parallel: 1, threads: 1 },
      model_layers: null,
    });
    const server = await ServerProcess.start({
      argv: command.argv,
      host: "127.0.0.1",
      port,
      ready_path: "/health",
      log_path: join(dir, `calibrate-${ctx}.log`),
      // A cap far above what it needs: same wrapper and malloc settings as in the sweep.
      memory_limit_bytes: 64 * 2 ** 30,
    });
    const target = new OpenAiTarget({ baseUrl: `${server.url}/v1`, model: "mid" });
    const machine = await collectMachineInfo();
    const run = (concurrency: number, requests: number) =>
      runBenchmark({
        target,
        workload: {
          prompt_tokens: 64,
          prompt_file: null,
          max_tokens: MAX_TOKENS,
          force_output_length: true,
          unique_prefix: true,
          seed: 0,
        },
        load: {
          requests,
          duration_s: null,
          concurrency,
          rate: null,
          arrival: "constant",
          warmup: 2,
          max_errors: null,
          seed: 0,
        },
        machine,
        config: {},
      });
    try {
      const alone = await run(1, 8);
      assert.equal(alone.summary.requests.failed, 0);
      // As many connections as the sweep's heaviest cell: llama-server's HTTP threads (and their
      // stacks) are part of its address space too.
      const loaded = await run(CONCURRENCY, CONCURRENCY);
      assert.equal(loaded.summary.requests.failed, 0);
      return { vmPeak: vmPeakBytes(server.pid), e2eMs: alone.summary.e2e_ms.min as number };
    } finally {
      await target.close();
      await server.stop();
    }
  }

  it("finds the wont-fit, out-of-memory, skipped and gated cells of ctx-size x parallel x concurrency", async () => {
    const small = await calibrate(4096);
    const large = await calibrate(16384);
    // Room above what ctx 16384 used for half of the KV cache ctx 65536 adds (from the GGUF's
    // shape): 16384 fits, 65536 cannot.
    const kvPerToken = (await inspectModel(model)).kv_cache.bytes_per_token;
    const limitMiB = Math.round(
      (Math.max(small.vmPeak, large.vmPeak) + (kvPerToken * (65536 - 16384)) / 2) / 2 ** 20,
    );
    assert.ok(limitMiB * 2 ** 20 > large.vmPeak * 1.15, `no room between the contexts: ${limitMiB} MiB`);
    // The fastest request seen alone (E). Thirty-two in flight: on one slot the last waits for
    // thirty-one others (TTFT ~31 E), on two slots for fifteen rounds (~15 E); alone, TTFT is the
    // prefill of 64 tokens, a fraction of E. A budget of 6 E, near the geometric middle of E and
    // 31 E, leaves room for a busy machine's tail latencies and for its load to change between
    // the calibration and the sweep.
    const budgetMs = Math.round(6 * Math.min(small.e2eMs, large.e2eMs));
    const db = join(dir, "sweep.sqlite");
    const run = await runCli([
      "sweep",
      "--server",
      "llama-server",
      "--server-bin",
      LLAMA_SERVER as string,
      "--model-file",
      model,
      "--ctx-size",
      "4096,16384,65536,262144",
      "--parallel",
      "1,2",
      "--threads",
      "1",
      "--concurrency",
      `1,${CONCURRENCY}`,
      "--prompt-tokens",
      "64",
      "--max-tokens",
      String(MAX_TOKENS),
      "--requests",
      String(CONCURRENCY),
      "--max-ttft-p95-ms",
      String(budgetMs),
      "--server-memory-limit",
      String(limitMiB),
      "--memory-budget",
      "2048",
      "--json",
      "--db",
      db,
      "--log-dir",
      join(dir, "logs"),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    type Cell = {
      index: number;
      knobs: { ctx: number; parallel: number };
      workload: { concurrency: number };
      status: string;
      failure: string | null;
      reason: string | null;
      skipped_because: number | null;
      run_id: string | null;
      summary: { ttft_ms: { p95: number } } | null;
      replicates: { checks: { check: string; ok: boolean }[] }[];
    };
    const cells: Cell[] = result.cells;
    const at = (ctx: number, parallel: number, c: number) =>
      cells.find(
        (x) => x.knobs.ctx === ctx && x.knobs.parallel === parallel && x.workload.concurrency === c,
      ) as Cell;
    const detail = () =>
      JSON.stringify(cells.map((c) => [c.knobs, c.workload.concurrency, c.status, c.reason]));
    assert.equal(cells.length, 16);

    for (const parallel of [1, 2])
      for (const c of [1, CONCURRENCY]) {
        const huge = at(262144, parallel, c);
        assert.equal(huge.status, "wont_fit", detail());
        assert.match(huge.reason ?? "", /KV cache 6\.00 GiB for 262144 cells .* in the memory budget/);
        assert.equal(huge.run_id, null);
      }
    const oom = at(65536, 1, 1);
    assert.equal(oom.status, "failed", detail());
    assert.equal(oom.failure, "oom");
    assert.match(oom.reason ?? "", /failed to allocate|insufficient memory/);
    assert.equal(at(65536, 1, CONCURRENCY).failure, "oom");
    for (const c of [1, CONCURRENCY]) {
      const skipped = at(65536, 2, c);
      assert.equal(skipped.status, "skipped", detail());
      assert.equal(skipped.skipped_because, oom.index);
    }
    // The TTFT budget gates exactly the loaded cells. (Other checks may fail on a busy machine:
    // tokens read in bursts are rightly untrusted, so this asserts the TTFT check itself.)
    const ttftOk = (cell: Cell) => cell.replicates[0]?.checks.find((c) => c.check === "ttft_p95")?.ok;
    for (const ctx of [4096, 16384]) {
      for (const parallel of [1, 2]) {
        const gated = at(ctx, parallel, CONCURRENCY);
        assert.equal(gated.status, "infeasible", `${budgetMs} ms budget: ${detail()}`);
        assert.equal(ttftOk(gated), false, `${budgetMs} ms budget: ${detail()}`);
        assert.ok((gated.summary?.ttft_ms.p95 ?? 0) > budgetMs);
        const light = at(ctx, parallel, 1);
        assert.notEqual(light.status, "failed", detail());
        assert.equal(ttftOk(light), true, `${budgetMs} ms budget: ${detail()}`);
      }
    }
    const store = RunStore.open(db);
    try {
      for (const cell of cells.filter((c) => c.run_id !== null)) {
        const stored = store.getRun(cell.run_id as string);
        assert.equal(stored.requests.length, CONCURRENCY);
        for (const r of stored.requests) assert.equal(r.output_tokens, MAX_TOKENS);
      }
    } finally {
      store.close();
    }
    assert.deepEqual(await serversOf(dir), [], "a llama-server outlived the sweep");
  });
});
