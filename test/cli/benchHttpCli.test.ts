import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MockServer } from "../../src/mock/MockServer.js";
import type { RunResult } from "../../src/results/RunResult.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { runCli } from "./runCli.js";

const DIST = ["mean", "stddev", "min", "p50", "p90", "p95", "p99", "max"];

describe("tokbench bench --url (CLI)", () => {
  let dir: string;
  let mock: MockServer;
  let url: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-cli-"));
    mock = new MockServer({ ttftMs: 5, itlMs: 2, timings: true });
    url = await mock.start();
  });
  after(async () => {
    await mock.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("--json prints the whole result, in the public format, and nothing else on stdout", async () => {
    const db = join(dir, "json.sqlite");
    const run = await runCli(
      ["bench", "--url", url, "--model", "m", "--requests", "12", "--concurrency", "3"].concat([
        "--max-tokens",
        "8",
        "--prompt-tokens",
        "20",
        "--json",
        "--db",
        db,
      ]),
    );
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as RunResult;
    assert.equal(result.schema_version, 1);
    assert.deepEqual(
      [result.summary.requests.total, result.summary.requests.succeeded, result.summary.requests.failed],
      [12, 12, 0],
    );
    for (const key of [
      "ttft_ms",
      "e2e_ms",
      "itl_ms",
      "tpot_ms",
      "decode_tps",
      "prefill_tps",
      "dispatch_lag_ms",
    ] as const) {
      for (const field of DIST) assert.ok(field in result.summary[key], `summary.${key}.${field}`);
    }
    assert.ok((result.summary.output_tokens_per_s as number) > 0);
    assert.ok((result.summary.requests_per_s as number) > 0);
    assert.equal(result.requests.length, 12);
    for (const r of result.requests) {
      assert.equal(r.output_tokens, 8);
      assert.equal(r.prompt_tokens, 20);
      assert.equal(r.token_source, "usage");
      assert.ok(Array.isArray(r.flags));
      assert.equal(r.error, null);
      assert.equal(r.server_timings?.source, "llama.cpp");
      for (const k of ["ttft_ms", "e2e_ms", "decode_tps"] as const) assert.equal(typeof r[k], "number");
    }
    const store = RunStore.open(db);
    try {
      assert.equal(store.getRun(result.run_id).requests.length, 12);
      assert.equal(store.getRun(result.run_id).status, "completed");
    } finally {
      store.close();
    }
  });

  it("never lets an API key reach the output, the errors or the database", async () => {
    const key = "sk-tokbench-SECRET-4242";
    const wrongKey = "sk-tokbench-WRONG-9999";
    const guarded = new MockServer({ ttftMs: 1, itlMs: 1, apiKey: key });
    const guardedUrl = await guarded.start();
    const keyFile = join(dir, "key.txt");
    await writeFile(keyFile, `${key}\n`);
    const db = join(dir, "secret.sqlite");
    try {
      const run = await runCli(
        [
          "bench",
          "--url",
          guardedUrl,
          "--model",
          "m",
          "-n",
          "3",
          "--warmup",
          "0",
          "--api-key-file",
          keyFile,
        ].concat(["--header", `X-Api-Key: ${key}`, "--json", "--db", db]),
      );
      assert.equal(run.code, 0, run.stderr);
      assert.ok(!run.stdout.includes(key) && !run.stderr.includes(key), "key printed");
      for (const name of await readdir(dir)) {
        if (!name.startsWith("secret.sqlite")) continue;
        const bytes = await readFile(join(dir, name));
        assert.equal(bytes.indexOf(key), -1, `key found in ${name}`);
      }
      // A wrong key from the environment: the server answers 401 and echoes the header it got.
      const refused = await runCli(["bench", "--url", guardedUrl, "--model", "m", "-n", "2", "--db", db], {
        env: { OPENAI_API_KEY: wrongKey },
      });
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /401/);
      assert.ok(
        !refused.stdout.includes(wrongKey) && !refused.stderr.includes(wrongKey),
        "wrong key printed",
      );
      const store = RunStore.open(db);
      try {
        assert.equal(store.listRuns().length, 1);
      } finally {
        store.close();
      }
    } finally {
      await guarded.close();
    }
  });

  it("stops cleanly on SIGINT and keeps the partial run, marked interrupted", async () => {
    const db = join(dir, "sigint.sqlite");
    const run = await runCli(
      [
        "bench",
        "--url",
        url,
        "--model",
        "m",
        "-n",
        "100000",
        "-c",
        "2",
        "--max-tokens",
        "8",
        "--db",
        db,
        "--no-progress",
      ],
      {
        // Interrupt once the run has stored requests: the CLI's start-up time varies with load.
        onStart: (child) => {
          const poll = setInterval(() => {
            if (!existsSync(db)) return;
            const probe = RunStore.open(db);
            try {
              const [entry] = probe.listRuns();
              if (entry !== undefined && entry.requests >= 5) {
                clearInterval(poll);
                child.kill("SIGINT");
              }
            } finally {
              probe.close();
            }
          }, 50);
          child.on("exit", () => clearInterval(poll));
        },
      },
    );
    assert.equal(run.code, 130, run.stderr);
    const store = RunStore.open(db);
    try {
      const [entry] = store.listRuns();
      const stored = store.getRun(entry?.run_id as string);
      assert.equal(stored.status, "interrupted");
      assert.ok(stored.requests.length > 0);
      assert.equal(stored.summary?.requests.total, stored.requests.length);
    } finally {
      store.close();
    }
    assert.match(run.stdout, /interrupted/);
  });

  it("rejects bad input with one line and a non-zero exit, never a stack trace", async () => {
    const cases: [string[], RegExp][] = [
      [["bench", "--url", "http://127.0.0.1:1/v1", "--model", "m", "--no-save"], /TARGET_UNREACHABLE/],
      [["bench", "--url", url, "--model", "m", "--concurrency", "0", "--no-save"], /--concurrency must be/],
      [["bench", "--url", url, "--model", "m", "--requests", "x", "--no-save"], /--requests must be/],
      [["bench", "--url", url, "--no-save"], /--model is required/],
      [
        ["bench", "--url", url, "--model", "m", "--prompt-file", join(dir, "none.jsonl"), "--no-save"],
        /FILE_NOT_FOUND/,
      ],
      [["bench", "--url", url, "--model", "m", "--extra-body", "{", "--no-save"], /--extra-body/],
      [["bench", "--url", url, "--model", "m", "--header", "nocolon", "--no-save"], /--header/],
      [
        ["bench", "--url", url, "--model", "m", "--api-key-file", join(dir, "nokey"), "--no-save"],
        /api-key-file/,
      ],
    ];
    for (const [args, pattern] of cases) {
      const run = await runCli(args);
      assert.notEqual(run.code, 0, args.join(" "));
      assert.match(run.stderr, pattern);
      assert.equal(run.stderr.trim().split("\n").length, 1, `one line for ${args.join(" ")}: ${run.stderr}`);
      assert.ok(!/\n\s+at /.test(run.stderr), "no stack trace");
    }
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
      "4",
      "-c",
      "2",
      // Two rounds of 80 tokens at 2 ms: the run outlasts one 250 ms sampling interval, which a
      // mean CPU figure needs (a shorter run shows '-').
      "--max-tokens",
      "80",
      "--prompt-tokens",
      "12",
      "--db",
      db,
      "--pid",
      String(process.pid),
    ]);
    assert.equal(run.code, 0, run.stderr);
    // The header is wider than a terminal, so each part has a line of its own.
    const lines = run.stderr.split("\n");
    assert.deepEqual(lines.slice(0, 3), [
      `measuring ${url} (model "m", chat API)`,
      "  4 requests, concurrency 2, 12 prompt + 80 output tokens",
      `  results -> ${db}`,
    ]);
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
