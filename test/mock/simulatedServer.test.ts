import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { inspectModel } from "../../src/gguf/inspectModel.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { CLI, runCli } from "../cli/runCli.js";

/** A `tokbench mock --simulate` process on a free loopback port. */
interface Sim {
  child: ChildProcessWithoutNullStreams;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** `origin/v1` */
  url: string;
  /** `performance.now()` when the base URL appeared on stdout (the port was open). */
  listeningAt: number;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcessWithoutNullStreams>();
after(() => {
  for (const child of children) child.kill("SIGKILL");
});

/** Starts the simulated server; resolves once its port is open (it may still be loading). */
function spawnSim(args: string[]): Promise<Sim> {
  const child = spawn(process.execPath, [CLI, "mock", "--simulate", "--port", "0", ...args]);
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return new Promise((resolve, reject) => {
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      const line = stdout.split("\n")[0] as string;
      if (stdout.includes("\n") && line.endsWith("/v1")) {
        resolve({
          child,
          url: line,
          origin: line.slice(0, -3),
          listeningAt: performance.now(),
          stderr: () => stderr,
          exited,
        });
      }
    });
    void exited.then(({ code }) => reject(new Error(`simulated server exited ${code}: ${stderr}`)));
  });
}

/** Starts the simulated server and waits until `/health` answers 200. */
async function startSim(args: string[]): Promise<Sim> {
  const sim = await spawnSim(args);
  for (;;) {
    const res = await fetch(`${sim.origin}/health`);
    await res.text();
    if (res.status === 200) return sim;
    await sleep(20);
  }
}

async function stopSim(sim: Sim): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  sim.child.kill("SIGTERM");
  return sim.exited;
}

/** `n` words no other prompt of the test shares (so no prompt is served from a slot's cache). */
let promptCounter = 0;
function prompt(n: number): string {
  const tag = promptCounter++;
  return Array.from({ length: n }, (_, i) => `p${tag}w${i}`).join(" ");
}

interface StreamResult {
  status: number;
  /** Arrival times of the token-bearing chunks, relative to the send. */
  tokenTimes: number[];
  timings: Record<string, number> | null;
  /** The simulated server's own figures without the host's delays. */
  simulation: Record<string, number> | null;
  usage: Record<string, unknown> | null;
  done: boolean;
  body: string;
  /** Set when the connection failed mid-stream. */
  error: string | null;
}

/** A streamed chat completion read with fetch, each token chunk stamped as it arrives. */
async function streamChat(
  url: string,
  words: number,
  maxTokens: number,
  signal?: AbortSignal,
): Promise<StreamResult> {
  const sent = performance.now();
  const result = (status: number, error: string | null): StreamResult => ({
    status,
    tokenTimes: [],
    timings: null,
    simulation: null,
    usage: null,
    done: false,
    body: "",
    error,
  });
  const failed = (error: unknown) => result(0, error instanceof Error ? error.message : String(error));
  const res = await fetch(`${url}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    ...(signal === undefined ? {} : { signal }),
    body: JSON.stringify({
      model: "m",
      messages: [{ role: "user", content: prompt(words) }],
      max_tokens: maxTokens,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    }),
  }).catch(failed);
  if (!(res instanceof Response)) return res;
  const out = result(res.status, null);
  if (res.status !== 200 || res.body === null) {
    out.body = await res.text();
    return out;
  }
  const decoder = new TextDecoder();
  let pending = "";
  try {
    for await (const bytes of res.body) {
      const at = performance.now() - sent;
      pending += decoder.decode(bytes as Uint8Array, { stream: true });
      let cut = pending.indexOf("\n\n");
      while (cut >= 0) {
        const event = pending.slice(0, cut);
        pending = pending.slice(cut + 2);
        cut = pending.indexOf("\n\n");
        if (!event.startsWith("data: ")) continue;
        const data = event.slice(6);
        if (data === "[DONE]") {
          out.done = true;
          continue;
        }
        const chunk = JSON.parse(data) as {
          choices: { delta?: { content?: string } }[];
          timings?: Record<string, number>;
          simulation?: Record<string, number>;
          usage?: Record<string, unknown>;
        };
        if (chunk.choices[0]?.delta?.content) out.tokenTimes.push(at);
        if (chunk.timings) out.timings = chunk.timings;
        if (chunk.simulation) out.simulation = chunk.simulation;
        if (chunk.usage) out.usage = chunk.usage;
      }
    }
  } catch (error) {
    out.error = error instanceof Error ? error.message : String(error);
  }
  return out;
}

const meanGap = (times: number[]) => ((times.at(-1) as number) - (times[0] as number)) / (times.length - 1);

describe("tokbench mock --simulate (real processes on loopback)", () => {
  it("starts like llama-server: 503 Loading model, then 200, llama-server's knobs and short flags, 400 past the context", async () => {
    const sim = await spawnSim(
      "--startup-ms 1500 -c 1024 -np 2 -t 4 -b 512 -ub 128 -ctk q8_0 -ctv q8_0 -fa on -ngl 10 --alias tiny".split(
        " ",
      ),
    );
    const loading = await fetch(`${sim.origin}/health`);
    assert.equal(loading.status, 503);
    assert.deepEqual(await loading.json(), {
      error: { code: 503, message: "Loading model", type: "unavailable_error" },
    });
    let ready: number;
    for (;;) {
      const res = await fetch(`${sim.origin}/health`);
      const body = await res.text();
      if (res.status === 200) {
        assert.deepEqual(JSON.parse(body), { status: "ok" });
        ready = performance.now();
        break;
      }
      await sleep(20);
    }
    const waited = ready - sim.listeningAt;
    assert.ok(waited > 1200 && waited < 6000, `ready ${waited.toFixed(0)} ms after the port opened`);
    assert.match(sim.stderr(), /main: loading model\n/);
    assert.ok(
      sim.stderr().includes(`main: server is listening on ${sim.origin} - starting the main loop`),
      sim.stderr(),
    );
    const models = (await (await fetch(`${sim.url}/models`)).json()) as { data: { id: string }[] };
    assert.deepEqual(
      models.data.map((m) => m.id),
      ["tiny"],
    );
    const props = (await (await fetch(`${sim.origin}/props`)).json()) as {
      total_slots: number;
      default_generation_settings: { n_ctx: number };
      simulated: Record<string, unknown>;
    };
    assert.equal(props.total_slots, 2);
    assert.equal(props.default_generation_settings.n_ctx, 512);
    assert.deepEqual(
      [
        props.simulated.threads,
        props.simulated.batch_size,
        props.simulated.ubatch_size,
        props.simulated.cache_type_k,
        props.simulated.cache_type_v,
        props.simulated.flash_attn,
        props.simulated.n_gpu_layers,
      ],
      [4, 512, 128, "q8_0", "q8_0", "on", 10],
    );

    // A slot holds 512 tokens: a prompt of 512 does not fit (llama-server's `>=`), one of 100 does.
    const exceeded = await streamChat(sim.url, 512, 4);
    assert.equal(exceeded.status, 400);
    const error = (JSON.parse(exceeded.body) as { error: Record<string, unknown> }).error;
    assert.equal(error.type, "exceed_context_size_error");
    assert.equal(
      error.message,
      "request (512 tokens) exceeds the available context size (512 tokens), try increasing it",
    );
    const fits = await streamChat(sim.url, 100, 4);
    assert.equal(fits.status, 200);
    assert.equal(fits.tokenTimes.length, 4);
    assert.equal(fits.usage?.completion_tokens, 4);
    assert.equal(fits.done, true);

    assert.deepEqual(await stopSim(sim), { code: 0, signal: null });
    assert.match(sim.stderr(), /cleaning up before exit/);
  });

  it("runs out of memory at start when weights + KV cache exceed the budget: llama.cpp's message, exit 1", async () => {
    // 400 MiB of weights + 32768 × 12288 B = 384 MiB of KV cache > 600 MiB.
    const sim = await spawnSim(["-c", "32768", "--memory-budget-mib", "600", "--startup-ms", "200"]);
    const health = await fetch(`${sim.origin}/health`);
    assert.equal(health.status, 503);
    assert.deepEqual(await sim.exited, { code: 1, signal: null });
    const log = sim.stderr();
    assert.match(
      log,
      /ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 402653184\n/,
    );
    assert.match(
      log,
      /llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache\n/,
    );
    assert.match(log, /main: error: unable to load model\n/);
    assert.doesNotMatch(log, /starting the main loop/);

    // The same machine serves the same model with a quarter of the context.
    const fits = await startSim(["-c", "8192", "--memory-budget-mib", "600", "--startup-ms", "0"]);
    assert.deepEqual(await stopSim(fits), { code: 0, signal: null });

    // llama.cpp refuses a quantized V cache without flash attention.
    const badKnobs = await spawnSim(["-ctv", "q8_0", "-fa", "off", "--startup-ms", "0"]);
    assert.equal((await badKnobs.exited).code, 1);
    assert.match(badKnobs.stderr(), /quantized V cache requires flash_attn to be enabled/);
  });

  it("runs out of memory under load: the sequence whose buffer does not fit aborts the server (exit 134) and cuts the streams in flight", async () => {
    // 400 MiB weights + 48 MiB KV + 10 MiB per active sequence: two fit in 470 MiB, three do not.
    const sim = await startSim(
      "-np 4 -c 4096 --memory-budget-mib 470 --seq-buffer-mib 10 --decode-tps 100 --prefill-tps 1000 --startup-ms 0".split(
        " ",
      ),
    );
    const first = streamChat(sim.url, 20, 400);
    const second = streamChat(sim.url, 20, 400);
    await sleep(500);
    const third = await streamChat(sim.url, 20, 400);
    assert.deepEqual(await sim.exited, { code: 134, signal: null });
    for (const r of [await first, await second]) {
      assert.equal(r.status, 200);
      assert.ok(r.tokenTimes.length > 0 && r.tokenTimes.length < 400, `${r.tokenTimes.length} tokens`);
      assert.equal(r.done, false);
      assert.notEqual(r.error, null);
    }
    // The third never got a token: its connection was cut before the headers.
    assert.equal(third.status, 0);
    assert.notEqual(third.error, null);
    assert.match(sim.stderr(), /failed to allocate buffer of size 10485760\n/);
  });

  it("crashes on request N+1 with --crash-after N (exit 139), for launchers' crash class", async () => {
    const sim = await startSim(
      "--crash-after 1 --decode-tps 200 --prefill-tps 2000 --startup-ms 0".split(" "),
    );
    assert.equal((await streamChat(sim.url, 5, 3)).done, true);
    const second = await streamChat(sim.url, 5, 3);
    assert.equal(second.status, 0);
    assert.deepEqual(await sim.exited, { code: 139, signal: null });
    assert.doesNotMatch(sim.stderr(), /failed to allocate/);
  });

  it("queues requests beyond the slots: the third of two slots waits for one to free", async () => {
    const sim = await startSim("-np 2 -c 8192 --decode-tps 100 --prefill-tps 1000 --startup-ms 0".split(" "));
    const results = await Promise.all([
      streamChat(sim.url, 50, 30),
      streamChat(sim.url, 50, 30),
      streamChat(sim.url, 50, 30),
    ]);
    // A client that goes away frees its slot: with both slots held by abandoned 50 s streams, a
    // new request starts at once.
    const abandon = new AbortController();
    const held = [
      streamChat(sim.url, 10, 5000, abandon.signal),
      streamChat(sim.url, 10, 5000, abandon.signal),
    ];
    await sleep(300);
    abandon.abort();
    await Promise.all(held);
    const next = await streamChat(sim.url, 10, 2);
    await stopSim(sim);
    assert.ok(
      (next.tokenTimes[0] as number) < 500,
      `TTFT after the abandoned streams: ${next.tokenTimes[0]} ms`,
    );
    const ttfts = results.map((r) => r.tokenTimes[0] as number);
    const ends = results.map((r) => r.tokenTimes.at(-1) as number);
    const last = ttfts.indexOf(Math.max(...ttfts));
    const others = [0, 1, 2].filter((i) => i !== last);
    const firstFreed = Math.min(...others.map((i) => ends[i] as number));
    // 30 tokens at ~100 tok/s: the third request's TTFT includes ~0.3 s of waiting for a slot.
    assert.ok((ttfts[last] as number) > firstFreed, `TTFTs ${ttfts}, first slot freed at ${firstFreed}`);
    assert.ok((ttfts[last] as number) > 3 * Math.max(...others.map((i) => ttfts[i] as number)));
    // The server's prompt time starts when the slot takes the request, as llama-server's does.
    const promptMs = results[last]?.timings?.prompt_ms as number;
    assert.ok(promptMs < (ttfts[last] as number) - 200, `prompt_ms ${promptMs} vs TTFT ${ttfts[last]}`);
  });

  it("TTFT grows with the prompt, decode slows per sequence but gains in aggregate with more active sequences, SIGTERM stops cleanly", async () => {
    const sim = await startSim(
      "-np 4 -c 16384 --decode-tps 100 --prefill-tps 1000 --startup-ms 0".split(" "),
    );
    const ttft: number[] = [];
    for (const words of [32, 512, 2048]) {
      const r = await streamChat(sim.url, words, 2);
      ttft.push(r.tokenTimes[0] as number);
      assert.equal(r.timings?.prompt_n, words);
    }
    assert.ok(
      (ttft[0] as number) < (ttft[1] as number) && (ttft[1] as number) < (ttft[2] as number),
      `${ttft}`,
    );
    // About prompt / --prefill-tps: 2048 tokens at ~1000 tok/s.
    assert.ok((ttft[2] as number) > 1500 && (ttft[2] as number) < 3500, `TTFT of 2048 tokens: ${ttft[2]} ms`);

    const alone = await streamChat(sim.url, 8, 40);
    const together = await Promise.all(Array.from({ length: 4 }, () => streamChat(sim.url, 8, 40)));

    // SIGTERM with a stream in flight: llama-server's log line, exit 0, the port closed.
    const inFlight = streamChat(sim.url, 10, 1000);
    await sleep(300);
    assert.deepEqual(await stopSim(sim), { code: 0, signal: null });
    assert.equal((await inFlight).done, false);
    assert.match(sim.stderr(), /srv {4}operator\(\): operator\(\): cleaning up before exit\.\.\.\n/);
    await assert.rejects(fetch(`${sim.origin}/health`));
    const gapAlone = meanGap(alone.tokenTimes);
    const gapTogether = together.map((r) => meanGap(r.tokenTimes)).reduce((a, b) => a + b) / 4;
    // The model gives 10 ms alone and ~13 ms with four sequences (+32 %): per-sequence slower,
    // aggregate ~3x faster.
    assert.ok(
      gapTogether > 1.15 * gapAlone,
      `per-token gap alone ${gapAlone} ms, four together ${gapTogether} ms`,
    );
    assert.ok(4 / gapTogether > 2 / gapAlone, "aggregate decode grows with active sequences");
  });

  it("reports timings that agree with what tokbench bench measures (no timing_mismatch)", async () => {
    const sim = await startSim(
      "-np 4 -c 8192 --decode-tps 50 --prefill-tps 1000 --noise 0.1 --startup-ms 0".split(" "),
    );
    const run = await runCli(
      `bench --url ${sim.url} --model m -n 16 -c 4 --prompt-tokens 128 --max-tokens 24 --warmup 1 --no-save --json`.split(
        " ",
      ),
    );
    await stopSim(sim);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as {
      requests: {
        status: number;
        flags: string[];
        output_tokens: number;
        prompt_tokens: number;
        decode_tps: number;
        server_timings: { decode_tps: number; prompt_tokens: number } | null;
      }[];
    };
    assert.equal(result.requests.length, 16);
    for (const r of result.requests) {
      assert.equal(r.status, 200);
      assert.deepEqual(r.flags, [], JSON.stringify(r));
      assert.equal(r.output_tokens, 24);
      assert.equal(r.prompt_tokens, 128);
      assert.ok(r.server_timings !== null);
      // Both count the 23 steps after the first token.
      const ratio = r.decode_tps / r.server_timings.decode_tps;
      assert.ok(ratio > 0.93 && ratio < 1.07, `client/server decode rate ${ratio}`);
    }
  });

  it("is deterministic for a seed: the same requests get the same timings; another seed changes them", async () => {
    const args = "--noise 0.3 --startup-ms 0 --decode-tps 50 --prefill-tps 1000".split(" ");
    const run = async (seed: number) => {
      const sim = await startSim([...args, "--seed", String(seed)]);
      const out: StreamResult[] = [];
      for (const words of [10, 300, 40]) out.push(await streamChat(sim.url, words, 8));
      await stopSim(sim);
      return out;
    };
    const a = await run(7);
    const b = await run(7);
    const c = await run(8);
    const simulated = (rs: StreamResult[]) =>
      rs.map((r) => [r.simulation?.prompt_ms, r.simulation?.predicted_ms]);
    assert.ok(a.every((r) => r.timings?.predicted_n === 8 && (r.simulation?.predicted_ms ?? 0) > 0));
    assert.deepEqual(simulated(a), simulated(b));
    assert.notDeepEqual(simulated(a), simulated(c));
    // llama.cpp's timings are the same figures, unless the host ran too late to keep up (then they
    // include that delay, as a real server's would).
    for (const r of [...a, ...b]) {
      const s = r.simulation as Record<string, number>;
      const t = r.timings as Record<string, number>;
      assert.ok(
        Math.abs(
          (t.prompt_ms as number) +
            (t.predicted_ms as number) -
            (s.prompt_ms as number) -
            (s.predicted_ms as number) -
            (s.host_delay_ms as number),
        ) < 0.01,
      );
      if (s.host_delay_ms === 0)
        assert.deepEqual([t.prompt_ms, t.predicted_ms], [s.prompt_ms, s.predicted_ms]);
    }
  });

  it("takes the model's size and KV width from a GGUF given with -m, as llama-server would", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tokbench-sim-"));
    try {
      const file = join(dir, "tiny-q8.gguf");
      await synthesizeModel({ preset: "tiny", type: "q8_0", out: file });
      const model = await inspectModel(file);
      const mib = model.tensor_bytes / (1024 * 1024);
      const kvMib = (4096 * model.kv_cache.bytes_per_token) / (1024 * 1024);
      // Room for the weights but not for the weights and a 4096-token KV cache: out of memory at start.
      const tooSmall = await spawnSim([
        "-m",
        file,
        "--memory-budget-mib",
        String(mib + kvMib / 2),
        "--startup-ms",
        "0",
      ]);
      assert.equal((await tooSmall.exited).code, 1);
      assert.match(
        tooSmall.stderr(),
        new RegExp(`failed to allocate buffer of size ${4096 * model.kv_cache.bytes_per_token}\n`),
      );
      const fits = await startSim([
        "-m",
        file,
        "--memory-budget-mib",
        String(mib + kvMib + 1),
        "--startup-ms",
        "0",
      ]);
      const models = (await (await fetch(`${fits.url}/models`)).json()) as { data: { id: string }[] };
      const props = (await (await fetch(`${fits.origin}/props`)).json()) as {
        simulated: { memory: { weights_bytes: number } };
      };
      await stopSim(fits);
      assert.deepEqual(
        models.data.map((m) => m.id),
        ["tiny-q8.gguf"],
      );
      assert.equal(props.simulated.memory.weights_bytes, model.tensor_bytes);
      assert.match(fits.stderr(), /loading model '.*tiny-q8\.gguf'/);

      // A path is the user's text: its control characters reach the log escaped, never raw.
      const missing = await spawnSim(["-m", join(dir, "absent\u001b[2J.gguf")]).catch((e: Error) => e);
      assert.ok(missing instanceof Error);
      assert.match(
        missing.message,
        /exited 1: .*error loading model: .*absent\\x1b\[2J\.gguf[\s\S]*main: error: unable to load model/,
      );
      assert.ok(!missing.message.includes("\u001b"), "no raw escape character in the log");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses flags of the other mode", async () => {
    const needsSimulate = await runCli(["mock", "--ctx-size", "4096"]);
    assert.notEqual(needsSimulate.code, 0);
    assert.match(needsSimulate.stderr, /--ctx-size needs --simulate/);
    const scripted = await runCli(["mock", "--simulate", "--ttft-ms", "5"]);
    assert.notEqual(scripted.code, 0);
    assert.match(scripted.stderr, /--ttft-ms does not apply with --simulate/);
    const badPort = await runCli(["mock", "--simulate", "--port", "99999"]);
    assert.notEqual(badPort.code, 0);
    assert.match(
      badPort.stderr,
      /^tokbench: --port must be a non-negative integer up to 65,535 \(got "99999"\)/m,
    );
  });

  it("exits 1 with llama-server's line when the port is taken", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      const run = await runCli(["mock", "--simulate", "--port", String(port)]);
      assert.equal(run.code, 1);
      assert.ok(
        run.stderr.includes(`couldn't bind HTTP server socket, hostname: 127.0.0.1, port: ${port}\n`),
        run.stderr,
      );
    } finally {
      taken.close();
    }
  });
});
