import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyFailure, cleanLogLine } from "../../src/servers/classifyFailure.js";
import type { ServerExit } from "../../src/servers/LaunchFailure.js";
import { parseOomKillCounter } from "../../src/system/oomKillCount.js";

const exited = (code: number): ServerExit => ({ code, signal: null, stopped_by_tokbench: false });
const killed = (signal: NodeJS.Signals): ServerExit => ({ code: null, signal, stopped_by_tokbench: false });

/** Log lines as the servers print them (llama.cpp lines from this llama-server build). */
const OOM_LOGS: Record<string, string> = {
  "llama.cpp CPU (ulimit)": [
    "0.00.034.177 E ggml_aligned_malloc: insufficient memory (attempted to allocate 512.00 MB)",
    "0.00.034.215 E ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 536870912",
    "0.00.034.388 E llama_init_from_model: failed to initialize the context: failed to allocate buffer for kv cache",
    "0.00.034.769 E srv  llama_server: exiting due to model loading error",
  ].join("\n"),
  "llama.cpp CUDA": [
    "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 8192.00 MiB on device 0: cudaMalloc failed: out of memory",
    "alloc_tensor_range: failed to allocate CUDA0 buffer of size 8589934592",
  ].join("\n"),
  "llama.cpp Metal": "ggml_metal_buffer_init: error: failed to allocate buffer, size = 24576.00 MiB",
  "PyTorch CUDA":
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 23.65 GiB",
  vLLM: "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV cache (15424). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.",
  "vLLM no blocks":
    "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when initializing the engine.",
  SGLang: "RuntimeError: Not enough memory. Please try to increase --mem-fraction-static.",
  Ollama: "Error: model requires more system memory (12.3 GiB) than is available (7.1 GiB)",
  MLX: "libc++abi: terminating due to uncaught exception of type std::runtime_error: [METAL] Command buffer execution failed: Insufficient Memory (00000008:kIOGPUCommandBufferCallbackErrorOutOfMemory)",
};

describe("classifyFailure", () => {
  for (const [server, log] of Object.entries(OOM_LOGS)) {
    it(`reads ${server}'s out-of-memory lines as oom`, () => {
      const failure = classifyFailure({ exit: exited(1), log: `loading model\n${log}\n`, stage: "start" });
      assert.equal(failure.class, "oom", failure.message);
      assert.ok(log.includes(failure.message.slice(0, 30)), failure.message);
    });
  }

  it("takes a SIGKILL nobody at tokbench sent as the OOM killer only when the cgroup counted a kill", () => {
    assert.equal(
      classifyFailure({ exit: killed("SIGKILL"), log: "", stage: "serve", oom_kills: 1 }).class,
      "oom",
    );
    const unexplained = classifyFailure({ exit: killed("SIGKILL"), log: "", stage: "serve", oom_kills: 0 });
    assert.equal(unexplained.class, "crash");
    assert.match(unexplained.message, /SIGKILL/);
    const ours = { code: null, signal: "SIGKILL" as const, stopped_by_tokbench: true };
    assert.equal(classifyFailure({ exit: ours, log: "", stage: "serve", oom_kills: 1 }).class, "crash");
  });

  it("reads rejected flags (llama.cpp, argparse, cobra) as bad_args while starting", () => {
    for (const log of [
      "error: invalid argument: --bogus",
      'error while handling argument "-c": stoi',
      "vllm serve: error: unrecognized arguments: --max-num-seq 4",
      "usage: launch_server.py [-h]\nlaunch_server.py: error: argument --context-length: invalid int value: 'x'",
      "Error: unknown flag: --port",
    ]) {
      assert.equal(classifyFailure({ exit: exited(2), log, stage: "start" }).class, "bad_args", log);
    }
  });

  it("reads a taken port as port_in_use", () => {
    for (const log of [
      "E srv start: couldn't bind HTTP server socket, hostname: 127.0.0.1, port: 8080",
      "ERROR: [Errno 98] error while attempting to bind on address ('127.0.0.1', 8000): address already in use",
      "Error: listen tcp 127.0.0.1:11434: bind: address already in use",
    ]) {
      assert.equal(classifyFailure({ exit: exited(1), log, stage: "start" }).class, "port_in_use", log);
    }
  });

  it("calls anything else a crash and keeps the last log lines", () => {
    const log = Array.from({ length: 30 }, (_, i) => `line ${i}`).join("\n");
    const failure = classifyFailure({ exit: killed("SIGSEGV"), log, stage: "serve" });
    assert.equal(failure.class, "crash");
    assert.match(failure.message, /killed by SIGSEGV; last log line: line 29/);
    assert.equal(failure.log_tail.length, 12);
    assert.equal(failure.log_tail.at(-1), "line 29");
    const timeout = classifyFailure({ exit: null, log: "loading 40%", stage: "start", timed_out: true });
    assert.equal(timeout.class, "ready_timeout");
  });

  it("never lets a log line drive the terminal", () => {
    assert.equal(cleanLogLine("\u001b[31mERROR\u001b[0m \u001b]0;title\u0007x\u0008"), "ERROR x\\x08");
  });

  it("reads the OOM killer's counter of cgroup v1 and v2", () => {
    assert.equal(parseOomKillCounter("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), 3);
    assert.equal(parseOomKillCounter("low 0\nhigh 0\nmax 2\noom 2\noom_kill 1\noom_group_kill 0\n"), 1);
    assert.equal(parseOomKillCounter("nothing"), null);
  });
});
