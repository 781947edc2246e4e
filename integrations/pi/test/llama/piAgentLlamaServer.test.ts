import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { synthesizeModel } from "tokbench";
import type { CallLogRecord } from "../../src/record/CallLogRecord.js";
import { runPi } from "../e2e/piHarness.js";

// The real pi agent with the extension against a real llama-server (built from the llama.cpp
// source node-llama-cpp ships: `npm run build:llama-server`, path in $LLAMA_SERVER) serving a
// synthetic model of a real shape. Greedy sampling (--temp 0) so a draft model that is the model
// itself proposes what the target accepts: speculative decoding with real draft batches.

const LLAMA_SERVER = process.env.LLAMA_SERVER ?? "";
const MAX_TOKENS = 48;

interface Server {
  baseUrl: string;
  child: ChildProcess;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function startServer(model: string, extra: string[]): Promise<Server> {
  const port = await freePort();
  const args = ["-m", model, "--host", "127.0.0.1", "--port", String(port), "-t", "1", "-c", "4096"];
  const child = spawn(LLAMA_SERVER, [...args, "--parallel", "1", "--no-webui", "--temp", "0", ...extra], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString("utf8")).slice(-4000);
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (child.exitCode !== null || i > 600) {
      child.kill("SIGKILL");
      throw new Error(`llama-server did not become healthy: ${stderr}`);
    }
    await sleep(100);
  }
  return { baseUrl: `${base}/v1`, child };
}

async function stop(server: Server | null): Promise<void> {
  if (server === null || server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

function model(baseUrl: string, api: string) {
  return { provider: "llama", baseUrl, api, id: "synthetic", maxTokens: MAX_TOKENS };
}

describe("the pi agent with the extension, against a real llama-server", { timeout: 600_000 }, () => {
  let dir = "";
  let gguf = "";
  before(async () => {
    assert.ok(
      LLAMA_SERVER !== "" && existsSync(LLAMA_SERVER),
      "LLAMA_SERVER must name a llama-server binary: `npm run test:pi-llama` builds one",
    );
    dir = mkdtempSync(join(tmpdir(), "tokbench-pi-llama-"));
    gguf = (await synthesizeModel({ preset: "tiny", type: "q4_0", out: join(dir, "model.gguf"), seed: 1 }))
      .path;
  });
  after(() => {
    if (dir !== "") rmSync(dir, { recursive: true, force: true });
  });

  it("the tokbench provider logs llama.cpp's timings, cross-checked against the socket view", async (t) => {
    let server: Server | null = null;
    try {
      server = await startServer(gguf, []);
      const run = await runPi(model(server.baseUrl, "tokbench-openai-completions"), ["one", "two"]);
      for (const line of run.logLines) t.diagnostic(`log: ${line}`);
      assert.equal(run.records.length, 2, run.stderr);
      for (const r of run.records) {
        assert.equal(r.error, null);
        assert.equal(r.clock, "socket");
        const timings = r.server_timings;
        assert.ok(timings !== null, "llama.cpp's timings are in the log");
        assert.equal(timings.predicted_n, r.output_tokens);
        assert.ok((timings.prompt_n ?? 0) > 0 && (timings.predicted_ms ?? 0) > 0);
        assert.equal(timings.draft_n, null, "no speculative decoding here");
        assert.ok(r.ttft_ms !== null && r.ttft_ms > 0);
        assert.ok(r.output_tokens > 1 && r.decode_tps !== null);
        // The cross-check: flagged exactly when client and server decode rates differ by > 20 %.
        const apart = Math.abs(r.decode_tps / (timings.decode_tps ?? Number.NaN) - 1);
        t.diagnostic(
          `call ${r.call_index}: client decode ${r.decode_tps.toFixed(1)} tok/s, llama.cpp ${timings.decode_tps?.toFixed(1)} tok/s (${(apart * 100).toFixed(1)} % apart)`,
        );
        assert.equal(r.flags.includes("timing_mismatch"), apart > 0.2);
      }
    } finally {
      await stop(server);
    }
  });

  it("pi's own provider against the same server: the same figures from pi's events", async (t) => {
    let server: Server | null = null;
    try {
      server = await startServer(gguf, []);
      const run = await runPi(model(server.baseUrl, "openai-completions"), ["one", "two"]);
      for (const line of run.logLines) t.diagnostic(`log: ${line}`);
      assert.equal(run.records.length, 2, run.stderr);
      for (const r of run.records) {
        assert.equal(r.error, null);
        assert.equal(r.clock, "pi-events");
        assert.equal(r.server_timings, null, "pi's client does not pass llama.cpp's timings on");
        assert.equal(r.token_source, "usage");
        assert.ok(r.ttft_ms !== null && r.ttft_ms > 0 && r.output_tokens > 1);
      }
    } finally {
      await stop(server);
    }
  });

  it("speculative decoding: draft counts logged, accepted drafts are output, bursts are not buffering", async (t) => {
    let server: Server | null = null;
    try {
      server = await startServer(gguf, [
        "--spec-type",
        "draft-simple",
        "-md",
        gguf,
        "--spec-draft-n-max",
        "4",
        "-td",
        "1",
      ]);
      const run = await runPi(model(server.baseUrl, "tokbench-openai-completions"), ["one", "two"]);
      for (const line of run.logLines) t.diagnostic(`log: ${line}`);
      assert.equal(run.records.length, 2, run.stderr);
      for (const r of run.records as CallLogRecord[]) {
        assert.equal(r.error, null);
        const timings = r.server_timings;
        assert.ok(
          timings !== null && timings.draft_n !== null && timings.draft_n_accepted !== null,
          "draft counts logged",
        );
        assert.ok(timings.draft_n_accepted > 0, "the model accepts its own drafts");
        assert.equal(r.output_tokens, timings.predicted_n, "output = accepted tokens, not drafted ones");
        assert.ok(r.arrival_reads < r.arrivals, "accepted drafts came in bursts");
        assert.ok(!r.flags.includes("buffered_stream"), JSON.stringify(r.flags));
        assert.equal(r.decode_tps_source, "client");
      }
    } finally {
      await stop(server);
    }
  });
});
