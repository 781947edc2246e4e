import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import type { RunResult } from "../../src/results/RunResult.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { rawServer, startMock } from "../targets/loopbackServers.js";
import { benchArgs, runCli } from "./runCli.js";

describe("messages say what happened, quoting what the user typed", () => {
  let dir: string;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-messages-"));
    url = `${(await startMock({ ttftMs: 1, itlMs: 1 })).mock.url}/v1`;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("every numeric flag quotes the text typed, and absurd counts are refused", async () => {
    const bench = ["bench", "--url", "http://127.0.0.1:9/v1", "--model", "m", "--no-save"];
    const cases: [string[], string][] = [
      [
        [...bench, "--max-tokens", "abc"],
        '--max-tokens must be a positive integer up to 1,048,576 (got "abc")',
      ],
      [[...bench, "-n", "1e300"], '--requests must be a positive integer up to 10,000,000 (got "1e300")'],
      [[...bench, "--requests", "2.5"], '--requests must be a positive integer up to 10,000,000 (got "2.5")'],
      [[...bench, "--duration", "1e9"], '--duration must be a number between 0.001 and 604,800 (got "1e9")'],
      [
        [...bench, "--concurrency", "0x10"],
        '--concurrency must be a positive integer up to 100,000 (got "0x10")',
      ],
      [[...bench, "--rate", "fast"], '--rate must be a number between 0.001 and 1,000,000 (got "fast")'],
      [[...bench, "--warmup", "-1"], '--warmup must be a non-negative integer up to 100,000 (got "-1")'],
      [[...bench, "--timeout", "1e12"], '--timeout must be a number between 0 and 86,400 (got "1e12")'],
      [
        [...bench, "--prompt-tokens", "1e7"],
        '--prompt-tokens must be a positive integer up to 1,048,576 (got "1e7")',
      ],
      [[...bench, "-n", "2", "-n", "3"], "--requests was given more than once"],
      [
        ["bench", "--repetitions", "many"],
        '--repetitions must be a positive integer up to 10,000 (got "many")',
      ],
      // Each list within its cap, their product days of work: refused before any model is loaded.
      [
        ["bench", "--model", "none.gguf", "--pp", "1-1000+1", "--tg", "1-1000+1", "--threads", "1-64"],
        "2,000 tests x 64 knob combinations = 128,000 test configurations (x 5 repetitions), more than 10,000: shorten the lists (--pp, --tg, --pg, --depth, the knobs)",
      ],
      [
        [
          "bench",
          "--model",
          "none.gguf",
          "--pp",
          "1-100+1",
          "--tg",
          "1-100+1",
          "--threads",
          "1-8",
          "--batch-size",
          "1-8",
          "-r",
          "1",
        ],
        "200 tests x 64 knob combinations = 12,800 test configurations (x 1 repetition), more than 10,000: shorten the lists (--pp, --tg, --pg, --depth, the knobs)",
      ],
      [["mock", "--port", "99999"], '--port must be a non-negative integer up to 65,535 (got "99999")'],
      [["mock", "--itl-ms", "soon"], '--itl-ms must be a number between 0 and 3,600,000 (got "soon")'],
      [["mock", "--error-rate", "2"], '--error-rate must be a number between 0 and 1 (got "2")'],
      [
        ["inspect", "x.gguf", "--ctx", "1.5"],
        '--ctx must be a positive integer up to 67,108,864 (got "1.5")',
      ],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args);
      assert.equal(run.stderr, `tokbench: ${message} [INVALID_ARGUMENT]\n`, args.join(" "));
      assert.equal(run.code, 2, args.join(" "));
    }
  });

  it("a flag that takes one value, given twice, is refused in every command; list flags repeat", async () => {
    const db = join(dir, "twice.sqlite");
    const cases: string[][] = [
      // Each crashed (`internal error`, exit 70), or ran with both values joined ("a,b").
      ["bench", "--url", url, "--url", url, "--model", "m", "--no-save"],
      ["bench", "--url", url, "--model", "a", "--model", "b", "--no-save"],
      ["bench", "--url", url, "--model", "m", "--db", db, "--db", `${db}2`],
      ["bench", "--url", url, "--model", "m", "--api", "chat", "--api", "chat", "--no-save"],
      ["bench", "--url", url, "--model", "m", "--extra-body", "{}", "--extra-body", "{}", "--no-save"],
      ["runs", "--db", db, "--tag", "a", "--tag", "b"],
      ["synth", "--out", join(dir, "a.gguf"), "--out", join(dir, "b.gguf")],
      ["mock", "--host", "127.0.0.1", "--host", "127.0.0.2"],
    ];
    for (const args of cases) {
      const flag = args.find((arg, i) => arg.startsWith("--") && args.indexOf(arg, i + 1) !== -1);
      const run = await runCli(args);
      assert.equal(
        run.stderr,
        `tokbench: ${flag} was given more than once [INVALID_ARGUMENT]\n`,
        args.join(" "),
      );
      assert.equal(run.code, 2, args.join(" "));
    }
    // A list flag still takes every value: two tags on one stored run.
    const tagged = await runCli([
      ...benchArgs(url, "-n", "1", "--warmup", "0", "--max-tokens", "2"),
      "--db",
      db,
      "--tag",
      "a",
      "--tag",
      "b",
      "--json",
    ]);
    assert.equal(tagged.code, 0, tagged.stderr);
    const runId = (JSON.parse(tagged.stdout) as RunResult).run_id;
    for (const tag of ["a", "b"]) {
      const listed = await runCli(["runs", "--db", db, "--tag", tag, "--json"]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(
        (JSON.parse(listed.stdout) as { runs: { run_id: string }[] }).runs.map((r) => r.run_id),
        [runId],
        tag,
      );
    }
  });

  it("the other numeric flags quote what was typed too, instead of 'got NaN' or running on NaN", async () => {
    const db = join(dir, "numbers.sqlite");
    const cases: [string[], string][] = [
      [["runs", "--db", db, "--limit", "abc"], '--limit must be a number (got "abc")'],
      [["compare", "a", "b", "--db", db, "--alpha", "x"], '--alpha must be a number (got "x")'],
      [["regress", "--db", db, "--alpha=abc"], '--alpha must be a number (got "abc")'],
      // Compared with NaN, every count passed: the flag was ignored without a word.
      [["regress", "--db", db, "--min-repetitions", "abc"], '--min-repetitions must be a number (got "abc")'],
      [
        ["regress", "--db", db, "--max-decode-drop", "1e999"],
        '--max-decode-drop must be a number (got "1e999")',
      ],
      [["sweep", "--replicates", "abc", "--dry-run"], '--replicates must be a number (got "abc")'],
      [["tune", "--max-trials", "many"], '--max-trials must be a number (got "many")'],
    ];
    for (const [args, message] of cases) {
      const run = await runCli(args);
      assert.equal(run.stderr, `tokbench: ${message} [INVALID_ARGUMENT]\n`, args.join(" "));
      assert.equal(run.code, 2, args.join(" "));
    }
  });

  it("a missing model file is one line and exit 1, before any database is created", async () => {
    for (const extra of [[], ["--pp", "16"], ["-n", "2"]]) {
      const db = join(dir, `missing-model-${extra.length}.db`);
      const missing = join(dir, "missing.gguf");
      const run = await runCli(["bench", "--model", missing, "--db", db, ...extra]);
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stderr, `tokbench: model file not found: ${missing} [FILE_NOT_FOUND]\n`);
      assert.equal(existsSync(db), false, `${extra.join(" ")}: ${db} was created`);
    }
  });

  it("a busy port for the mock is one clear line and exit 2, not an internal error", async () => {
    const port = Number(new URL(url).port);
    const run = await runCli(["mock", "--port", String(port)]);
    assert.equal(run.code, 2, run.stderr);
    assert.equal(
      run.stderr,
      `tokbench: 127.0.0.1:${port} is already in use (pick another --port, or 0 for a free one) [INVALID_ARGUMENT]\n`,
    );
  });

  it("a line break or control character in an API key or a header is a bad key, not an unreachable target", async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ["--api-key", "sk-abc\ndef"],
        {},
        /^tokbench: the API key from --api-key holds a line break: it is not a valid key/,
      ],
      [[], { OPENAI_API_KEY: "sk-abc\r\n" }, /^tokbench: the API key from OPENAI_API_KEY holds a line break/],
      [["--api-key", "sk-abc\u0007"], {}, /holds a control character/],
      [
        ["--header", "X-Trace: a\u001bb"],
        {},
        /^tokbench: the value of header X-Trace holds a line break or another control character/,
      ],
    ];
    for (const [extra, env, pattern] of cases) {
      const run = await runCli(benchArgs(url, "-n", "1", "--no-save", ...extra), {
        env,
      });
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, pattern);
      assert.match(run.stderr, /\[INVALID_ARGUMENT\]\n$/);
      assert.ok(!run.stderr.includes("sk-abc"), "the key is not echoed");
    }
  });

  it("a 200 that is not a stream says its content type, not 'ended before [DONE]'", async () => {
    const answers: [string, string, RegExp][] = [
      [
        "text/html; charset=utf-8",
        "<html><body>Welcome to nginx!</body></html>",
        /with content-type text\/html; charset=utf-8, not a stream \(text\/event-stream\): <html><body>Welcome to nginx!/,
      ],
      [
        "application/json",
        '{"status":"ok"}',
        /with content-type application\/json, not a stream \(text\/event-stream\): \{"status":"ok"\}/,
      ],
      ["text/plain", "hello", /with content-type text\/plain, not a stream/],
    ];
    for (const [type, body, message] of answers) {
      const root = await rawServer((req, res) => {
        res.writeHead(200, { "content-type": req.method === "GET" ? "application/json" : type });
        res.end(req.method === "GET" ? "{}" : body);
      });
      const run = await runCli(benchArgs(`${root}/v1`, "-n", "2", "--warmup", "0", "--no-save", "--json"));
      assert.equal(run.code, 1, run.stderr);
      const result = JSON.parse(run.stdout) as RunResult;
      assert.deepEqual(result.summary.requests.errors_by_code, { REQUEST_NOT_A_STREAM: 2 }, type);
      for (const record of result.requests) {
        assert.match(
          record.error?.message ?? "",
          /^POST http:\/\/127\.0\.0\.1:\d+\/v1\/chat\/completions answered HTTP 200 /,
        );
        assert.match(record.error?.message ?? "", message);
      }
    }
    // Ollama's native API: an HTML page where NDJSON was expected.
    const ollama = await rawServer((req, res) => {
      res.writeHead(200, { "content-type": req.method === "GET" ? "application/json" : "text/html" });
      res.end(req.method === "GET" ? '{"version":"0"}' : "<html>login</html>");
    });
    const run = await runCli([
      "bench",
      "--url",
      ollama,
      "--api",
      "ollama",
      "--model",
      "m",
      "-n",
      "1",
      "--warmup",
      "0",
      "--no-save",
      "--json",
    ]);
    const result = JSON.parse(run.stdout) as { requests: { error: { message: string } | null }[] };
    assert.match(
      result.requests[0]?.error?.message ?? "",
      /answered HTTP 200 with content-type text\/html, not a stream \(application\/x-ndjson\): <html>login/,
    );
  });

  it("a trace write failure is FILE_UNWRITABLE with the system's reason", async (t) => {
    if (process.platform !== "linux") {
      t.skip("/dev/full is Linux's");
      return;
    }
    // The tiny preset: the default model is 268 MiB, and the test must not create it in the home cache.
    const model = join(dir, "tiny.gguf");
    await synthesizeModel({ preset: "tiny", type: "q4_0", out: model });
    const run = await runCli([
      "bench",
      "--model",
      model,
      "--pp",
      "8",
      "--tg",
      "4",
      "-r",
      "1",
      "--no-save",
      "--trace",
      "/dev/full",
    ]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^tokbench: cannot write trace file \/dev\/full: ENOSPC: no space left on device, write \[FILE_UNWRITABLE\]\n$/,
    );
  });

  it("the reachability check honours --timeout", async () => {
    // Accepts connections and reads requests, never answers.
    const silent = await rawServer(() => {});
    const port = Number(new URL(silent).port);
    const started = performance.now();
    const run = await runCli(benchArgs(`http://127.0.0.1:${port}/v1`, "--timeout", "1", "--no-save"));
    const seconds = (performance.now() - started) / 1000;
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^tokbench: no answer from GET http:\/\/127\.0\.0\.1:\d+\/v1\/models within 1 s \[TARGET_UNREACHABLE\]\n$/,
    );
    assert.ok(seconds < 8, `${seconds} s: the 10 s default was not waited`);
  });
});
