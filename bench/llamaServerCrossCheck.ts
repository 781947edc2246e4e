/**
 * Cross-check against a real llama.cpp server: tokbench measures llama-server (built from the
 * llama.cpp source node-llama-cpp ships: scripts/build-llama-server.sh) serving a synthetic model,
 * and prints its client-side figures next to what the server reports about itself (`timings`).
 *
 *   export LLAMA_SERVER="$(scripts/build-llama-server.sh | tail -n 1)"
 *   node dist/bench/llamaServerCrossCheck.js [--preset tiny] [--type q4_0] [--requests 16] [--threads 1]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { runBenchmark } from "../src/benchmark/runBenchmark.js";
import { formatNumber } from "../src/output/formatNumber.js";
import { synthesizeModel } from "../src/synth/synthesizeModel.js";
import { collectMachineInfo } from "../src/system/machineInfo.js";
import { OpenAiTarget } from "../src/targets/openai/OpenAiTarget.js";
import { parseBenchArgs } from "./benchArgs.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["requests", "threads", "prompt-tokens", "max-tokens", "port"],
  options: {
    preset: { type: "string", default: "tiny" },
    type: { type: "string", default: "q4_0" },
    requests: { type: "string", default: "16" },
    threads: { type: "string", default: "1" },
    "prompt-tokens": { type: "string", default: "128" },
    "max-tokens": { type: "string", default: "64" },
    port: { type: "string", default: "18431" },
  },
});
const server = process.env.LLAMA_SERVER;
if (server === undefined || server === "") {
  console.log("LLAMA_SERVER is not set: build it with scripts/build-llama-server.sh and export its path.");
  process.exit(0);
}

const dir = await mkdtemp(join(tmpdir(), "tokbench-llama-server-"));
let child: ChildProcess | null = null;
try {
  const model = await synthesizeModel({
    preset: values.preset,
    type: values.type as "q4_0",
    out: join(dir, "model.gguf"),
    seed: 1,
  });
  const port = Number(values.port);
  child = spawn(
    server,
    ["-m", model.path, "--host", "127.0.0.1", "--port", String(port), "-t", values.threads].concat([
      "-c",
      "4096",
      "--parallel",
      "1",
      "--no-webui",
    ]),
    { stdio: ["ignore", "ignore", "ignore"] },
  );
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) break;
    if (i > 600) throw new Error("llama-server did not become healthy in 60 s");
    await sleep(100);
  }
  const target = new OpenAiTarget({ baseUrl: `${base}/v1`, model: "synthetic" });
  const result = await runBenchmark({
    target,
    machine: await collectMachineInfo(),
    config: { target: "llama-server", preset: values.preset, type: values.type },
    workload: {
      prompt_tokens: Number(values["prompt-tokens"]),
      prompt_file: null,
      max_tokens: Number(values["max-tokens"]),
      force_output_length: true,
      unique_prefix: true,
      seed: 0,
    },
    load: {
      requests: Number(values.requests),
      duration_s: null,
      concurrency: 1,
      rate: null,
      arrival: "constant",
      warmup: 1,
      max_errors: null,
      seed: 0,
    },
  });
  await target.close();
  const s = result.summary;
  const ratio = (a: number | null, b: number | null): string =>
    a !== null && b !== null && b > 0 ? (a / b).toFixed(3) : "-";
  console.log(
    `llama-server, ${values.preset} ${values.type} (${model.parameters.toLocaleString("en-US")} parameters), ${values.threads} thread(s)`,
  );
  console.log(
    `workload: ${result.config.workload_description}, ${values["max-tokens"]} output tokens, ${s.requests.succeeded}/${s.requests.total} ok`,
  );
  console.log(`token sources: ${JSON.stringify(s.token_sources)}; flags: ${JSON.stringify(s.flags)}`);
  console.log("figure                      client (tokbench)   server (timings)   client/server");
  console.log(
    `decode tok/s (mean)         ${formatNumber(s.decode_tps.mean).padStart(17)}   ${formatNumber(s.server_decode_tps.mean).padStart(16)}   ${ratio(s.decode_tps.mean, s.server_decode_tps.mean).padStart(13)}`,
  );
  console.log(
    `prefill tok/s (mean)        ${formatNumber(s.prefill_tps.mean).padStart(17)}   ${formatNumber(s.server_prefill_tps.mean).padStart(16)}   ${ratio(s.prefill_tps.mean, s.server_prefill_tps.mean).padStart(13)}`,
  );
  console.log(
    `TTFT ms p50 ${formatNumber(s.ttft_ms.p50)}, ITL ms p50 ${formatNumber(s.itl_ms.p50)} p99 ${formatNumber(s.itl_ms.p99)}, e2e ms p50 ${formatNumber(s.e2e_ms.p50)}`,
  );
  const first = result.requests[Symbol.iterator]().next().value;
  console.log(
    `request 0: prompt_tokens ${first?.prompt_tokens} (asked ${values["prompt-tokens"]}), output ${first?.output_tokens}, server ${JSON.stringify(first?.server_timings)}`,
  );
} finally {
  child?.kill("SIGTERM");
  await rm(dir, { recursive: true, force: true });
}
