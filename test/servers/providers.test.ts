import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import { fillCommand, splitCommand } from "../../src/servers/commandTemplate.js";
import { providerFor } from "../../src/servers/providerFor.js";
import { embeddedProvider } from "../../src/servers/providers/embedded.js";
import { templateProvider } from "../../src/servers/providers/template.js";
import { STANDARD_KNOBS } from "../../src/servers/ServerProvider.js";

const base = { program: null, host: "127.0.0.1", port: 8123, model_layers: 24 };

describe("command templates", () => {
  it("splits like a shell, keeps quotes, takes leading assignments as environment", () => {
    const words = splitCommand(`CUDA_VISIBLE_DEVICES=0 llama-server -m "my model.gguf" --alias 'a b' x\\ y`);
    assert.deepEqual(words.env, { CUDA_VISIBLE_DEVICES: "0" });
    assert.deepEqual(words.words, ["llama-server", "-m", "my model.gguf", "--alias", "a b", "x y"]);
    for (const bad of ["llama-server | tee log", "a > b", "a; b", "'unterminated", "X=1"]) {
      assert.throws(
        () => splitCommand(bad),
        (e: unknown) => isTokbenchError(e, "INVALID_ARGUMENT"),
        bad,
      );
    }
  });

  it("fills placeholders inside words; a value never becomes shell syntax or extra words", () => {
    const filled = fillCommand(splitCommand("srv --port {port} -c {ctx} --name=x{ctx}"), {
      port: "9",
      ctx: "1; rm -rf /",
    });
    assert.deepEqual(filled.words, ["srv", "--port", "9", "-c", "1; rm -rf /", "--name=x1; rm -rf /"]);
    assert.throws(
      () => fillCommand(splitCommand("srv {nope} {port}"), { port: "1" }),
      /\{nope\} has no value/,
    );
  });

  it("a template needs {port} and one knob per placeholder", () => {
    assert.throws(() => templateProvider("llama-server -c {ctx}"), /must contain \{port\}/);
    const t = templateProvider("llama-server -m {model} --port {port} -c {ctx} -np {parallel}");
    assert.deepEqual(t.knob_placeholders, ["ctx", "parallel"]);
    t.checkKnobs(["ctx", "parallel"], true);
    assert.throws(() => t.checkKnobs(["ctx"], true), /\{parallel\} has no value/);
    assert.throws(() => t.checkKnobs(["ctx", "parallel", "threads"], true), /no \{threads\} placeholder/);
    assert.throws(() => t.checkKnobs(["ctx", "parallel"], false), /--model-file/);
    const cmd = t.command({ ...base, model: "m.gguf", knobs: { ctx: 2048, parallel: 4 } });
    assert.deepEqual(cmd.argv, ["llama-server", "-m", "m.gguf", "--port", "8123", "-c", "2048", "-np", "4"]);
    assert.equal(cmd.ready_path, "/health");
  });
});

describe("providers build their servers' real command lines", () => {
  it("llama-server", () => {
    const cmd = providerFor("llama-server").command({
      ...base,
      program: ["/opt/llama-server"],
      model: "m.gguf",
      knobs: {
        ctx: 8192,
        parallel: 4,
        threads: 2,
        flash_attn: true,
        gpu_layers: "50%",
        cache_type_k: "q8_0",
      },
    });
    assert.deepEqual(cmd.argv, [
      "/opt/llama-server",
      "-m",
      "m.gguf",
      "--host",
      "127.0.0.1",
      "--port",
      "8123",
      "-c",
      "8192",
      "-np",
      "4",
      "-t",
      "2",
      "-fa",
      "on",
      "-ngl",
      "13",
      "-ctk",
      "q8_0",
    ]);
    assert.equal(cmd.api, "openai");
    const pass = providerFor("llama-server").command({
      ...base,
      model: null,
      knobs: { "cont-batching": false },
    });
    assert.ok(pass.argv.includes("--no-cont-batching"));
  });

  it("ollama: environment for server settings, request options for model settings", () => {
    const cmd = providerFor("ollama").command({
      ...base,
      model: "llama3.2",
      knobs: {
        parallel: 4,
        ctx: 4096,
        threads: 2,
        flash_attn: "on",
        cache_type_k: "q8_0",
        OLLAMA_SCHED_SPREAD: 1,
      },
    });
    assert.deepEqual(cmd.argv, ["ollama", "serve"]);
    assert.equal(cmd.env.OLLAMA_HOST, "127.0.0.1:8123");
    assert.equal(cmd.env.OLLAMA_NUM_PARALLEL, "4");
    assert.equal(cmd.env.OLLAMA_FLASH_ATTENTION, "1");
    assert.equal(cmd.env.OLLAMA_KV_CACHE_TYPE, "q8_0");
    assert.equal(cmd.env.OLLAMA_SCHED_SPREAD, "1");
    assert.deepEqual(cmd.request_options, { num_ctx: 4096, num_thread: 2 });
    assert.equal(cmd.ready_path, "/api/tags");
    assert.equal(cmd.api, "ollama");
  });

  it("vllm, sglang, mlx-lm; a knob a server has no equivalent for is refused", () => {
    const v = providerFor("vllm").command({
      ...base,
      model: "Qwen/Qwen2.5-0.5B",
      knobs: { ctx: 4096, parallel: 8, "gpu-memory-utilization": 0.8 },
    });
    assert.deepEqual(v.argv.slice(0, 3), ["vllm", "serve", "Qwen/Qwen2.5-0.5B"]);
    assert.ok(
      v.argv.join(" ").includes("--max-model-len 4096 --max-num-seqs 8 --gpu-memory-utilization 0.8"),
    );
    const s = providerFor("sglang").command({ ...base, model: "m", knobs: { ctx: 4096, parallel: 8 } });
    assert.ok(s.argv.join(" ").startsWith("python3 -m sglang.launch_server --model-path m"));
    assert.ok(s.argv.join(" ").includes("--context-length 4096 --max-running-requests 8"));
    const m = providerFor("mlx-lm").command({ ...base, model: "m", knobs: { parallel: 8 } });
    assert.ok(
      m.argv.join(" ").includes("mlx_lm.server --model m") && m.argv.includes("--decode-concurrency"),
    );
    assert.throws(
      () => providerFor("mlx-lm").command({ ...base, model: "m", knobs: { ctx: 4096 } }),
      /--ctx-size has no equivalent for mlx-lm/,
    );
    assert.throws(
      () => providerFor("vllm").command({ ...base, model: "m", knobs: { threads: 4 } }),
      /--threads has no equivalent for vllm/,
    );
  });

  it("vllm, sglang, mlx-lm: every standard knob is mapped or refused, and other knobs pass through", () => {
    for (const name of ["vllm", "sglang", "mlx-lm"] as const) {
      const provider = providerFor(name);
      for (const knob of Object.keys(STANDARD_KNOBS).filter((k) => k !== "model")) {
        const flag = provider.knob_names[knob];
        if (flag === undefined) {
          assert.throws(
            () => provider.command({ ...base, model: "m", knobs: { [knob]: 1 } }),
            new RegExp(`--${STANDARD_KNOBS[knob]?.flag} has no equivalent for ${name}`),
          );
        } else {
          const cmd = provider.command({ ...base, model: "m", knobs: { [knob]: 7 } });
          assert.deepEqual(cmd.argv.slice(-2), [flag, "7"], `${name} ${knob}`);
          assert.equal(cmd.ready_path, "/health");
          assert.equal(cmd.api, "openai");
        }
      }
      const other = provider.command({ ...base, model: "m", knobs: { constructor: 2, "enable-x": true } });
      assert.deepEqual(other.argv.slice(-3), ["--constructor", "2", "--enable-x"], name);
    }
    // A program of the user's replaces the default; vLLM's `serve` subcommand stays.
    const v = providerFor("vllm").command({
      ...base,
      program: ["/opt/venv/bin/vllm"],
      model: "m",
      knobs: {},
    });
    assert.deepEqual(v.argv.slice(0, 3), ["/opt/venv/bin/vllm", "serve", "m"]);
    const s = providerFor("sglang").command({ ...base, program: ["py", "-m", "sg"], model: null, knobs: {} });
    assert.deepEqual(s.argv.slice(0, 4), ["py", "-m", "sg", "--host"]);
  });

  it("embedded: ctx is the total context, split across parallel sequences as llama-server does", () => {
    const c = embeddedProvider.configuration(
      { ctx: 8192, parallel: 4, flash_attn: "auto", gpu_layers: "100%" },
      24,
    );
    assert.equal(c.ctx_per_sequence, 2048);
    assert.equal(c.parallel, 4);
    assert.equal(c.flash_attn, "auto");
    assert.equal(c.gpu_layers, 25);
    assert.throws(
      () => embeddedProvider.configuration({ "gpu-memory-utilization": 0.9 }, 24),
      /no equivalent/,
    );
  });
});
