import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { applyFiles, backupFile, renderApplyFiles } from "../../src/tune/applyRecipe.js";
import { canonicalJson, recipeHash } from "../../src/tune/recipe.js";

describe("recipe hash", () => {
  it("canonical JSON follows RFC 8785: the example of its section 3.2.2", () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    assert.equal(
      canonicalJson(input),
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  it("sorts properties by UTF-16 code units (RFC 8785 section 3.2.3)", () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    );
    // Compared as text: parsing it back would put the integer-like key "1" first again.
    assert.equal(
      canonicalJson(input),
      `{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis","\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}`,
    );
  });

  it("serializes numbers as ECMAScript does (RFC 8785 appendix B)", () => {
    const cases: [number, string][] = [
      [0, "0"],
      [-0, "0"],
      [5e-324, "5e-324"],
      [1.7976931348623157e308, "1.7976931348623157e+308"],
      [9007199254740992, "9007199254740992"],
      [1e21, "1e+21"],
      [999999999999999900000, "999999999999999900000"],
      [1e-7, "1e-7"],
      [0.000001, "0.000001"],
      [295147905179352830000, "295147905179352830000"],
    ];
    for (const [n, text] of cases) assert.equal(canonicalJson([n]), `[${text}]`, String(n));
  });

  it("is the same for the same parts in any key order and changes when an input changes", () => {
    const machine = { cpu_model: "x", cpu_cores: 2 };
    const a = recipeHash({
      machine: machine as never,
      inputs: { objective: "throughput", knobs: { parallel: [1, 2] } } as never,
      recommendation: { knobs: { parallel: 2 }, model: null } as never,
    });
    const b = recipeHash({
      machine: { cpu_cores: 2, cpu_model: "x" } as never,
      inputs: { knobs: { parallel: [1, 2] }, objective: "throughput" } as never,
      recommendation: { model: null, knobs: { parallel: 2 } } as never,
    });
    const c = recipeHash({
      machine: machine as never,
      inputs: { objective: "latency", knobs: { parallel: [1, 2] } } as never,
      recommendation: { knobs: { parallel: 2 }, model: null } as never,
    });
    assert.match(a, /^sha256:[0-9a-f]{64}$/);
    assert.equal(a, b);
    assert.notEqual(a, c);
  });
});

describe("--apply", () => {
  it("writes llama-server's LLAMA_ARG_* variables", () => {
    const [file] = renderApplyFiles("/x/server.env", {
      provider: "llama-server",
      recipe_hash: "sha256:00",
      model: "/m/q.gguf",
      knobs: {
        ctx: 4096,
        parallel: 4,
        batch: 512,
        ubatch: 128,
        flash_attn: "on",
        cache_type_k: "q8_0",
        gpu_layers: "50%",
        jinja: true,
      },
      model_layers: 23,
      command: null,
      host: "127.0.0.1",
      port: 8080,
    });
    const lines = (file?.content ?? "").split("\n");
    for (const expected of [
      "LLAMA_ARG_MODEL=/m/q.gguf",
      "LLAMA_ARG_CTX_SIZE=4096",
      "LLAMA_ARG_N_PARALLEL=4",
      "LLAMA_ARG_BATCH=512",
      "LLAMA_ARG_UBATCH=128",
      "LLAMA_ARG_FLASH_ATTN=on",
      "LLAMA_ARG_CACHE_TYPE_K=q8_0",
      "LLAMA_ARG_N_GPU_LAYERS=12",
      "LLAMA_ARG_PORT=8080",
    ])
      assert.ok(lines.includes(expected), `${expected} in\n${file?.content}`);
    assert.ok(lines.some((l) => l.startsWith("# --jinja true: no LLAMA_ARG_ variable")));
  });

  it("writes an Ollama Modelfile with PARAMETER lines and the server's environment beside it", () => {
    const files = renderApplyFiles("/x/Modelfile", {
      provider: "ollama",
      recipe_hash: "sha256:00",
      model: "llama3.2:1b",
      knobs: { ctx: 8192, parallel: 2 },
      model_layers: null,
      command: {
        argv: ["ollama", "serve"],
        env: {
          OLLAMA_HOST: "127.0.0.1:11434",
          OLLAMA_NUM_PARALLEL: "2",
          OLLAMA_KEEP_ALIVE: "-1",
          OLLAMA_MAX_LOADED_MODELS: "1",
        },
        ready_path: "/api/tags",
        api: "ollama",
        request_options: { num_ctx: 8192 },
      },
      host: "127.0.0.1",
      port: 11434,
    });
    assert.match(files[0]?.content ?? "", /^FROM llama3\.2:1b$/m);
    assert.match(files[0]?.content ?? "", /^PARAMETER num_ctx 8192$/m);
    assert.equal(files[1]?.path, "/x/Modelfile.env");
    assert.match(files[1]?.content ?? "", /^OLLAMA_NUM_PARALLEL=2$/m);
  });

  it("writes vLLM's YAML config and a shell script for a template", () => {
    const [yaml] = renderApplyFiles("/x/vllm.yaml", {
      provider: "vllm",
      recipe_hash: "sha256:00",
      model: "Qwen/Qwen2.5-0.5B",
      knobs: {},
      model_layers: null,
      command: {
        argv: [
          "vllm",
          "serve",
          "Qwen/Qwen2.5-0.5B",
          "--host",
          "127.0.0.1",
          "--port",
          "8000",
          "--max-model-len",
          "4096",
          "--max-num-seqs",
          "8",
        ],
        env: {},
        ready_path: "/health",
        api: "openai",
        request_options: {},
      },
      host: "127.0.0.1",
      port: 8000,
    });
    assert.match(yaml?.content ?? "", /^max-model-len: 4096$/m);
    assert.match(yaml?.content ?? "", /^max-num-seqs: 8$/m);
    assert.match(yaml?.content ?? "", /^model: Qwen\/Qwen2\.5-0\.5B$/m);
    const [script] = renderApplyFiles("/x/serve.sh", {
      provider: "template",
      recipe_hash: "sha256:00",
      model: null,
      knobs: { ctx: 4096 },
      model_layers: null,
      command: {
        argv: ["my server", "-c", "4096", "--name", "it's"],
        env: { A: "1" },
        ready_path: "/health",
        api: "openai",
        request_options: {},
      },
      host: "127.0.0.1",
      port: 8080,
    });
    assert.equal(script?.mode, 0o755);
    assert.match(script?.content ?? "", /^exec A=1 'my server' -c 4096 --name 'it'\\''s'$/m);
  });

  it("keeps an existing file as a backup and never overwrites an earlier backup", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tokbench-apply-"));
    try {
      const path = join(dir, "server.env");
      await writeFile(path, "original\n");
      await writeFile(`${path}.bak`, "an older backup\n");
      const first = applyFiles([{ path, content: "first\n", mode: 0o644 }]);
      assert.deepEqual(first.backups, [`${path}.bak.1`]);
      const second = applyFiles([{ path, content: "second\n", mode: 0o644 }]);
      assert.deepEqual(second.backups, [`${path}.bak.2`]);
      assert.equal(await readFile(path, "utf8"), "second\n");
      assert.equal(await readFile(`${path}.bak`, "utf8"), "an older backup\n");
      assert.equal(await readFile(`${path}.bak.1`, "utf8"), "original\n");
      assert.equal(await readFile(`${path}.bak.2`, "utf8"), "first\n");
      // No temporary file is left behind.
      assert.deepEqual((await readdir(dir)).sort(), [
        "server.env",
        "server.env.bak",
        "server.env.bak.1",
        "server.env.bak.2",
      ]);
      assert.equal(backupFile(join(dir, "absent")), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
