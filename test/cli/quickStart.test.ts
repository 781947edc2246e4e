import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEFAULT_MODEL, defaultModelPath } from "../../src/engine/defaultModelPath.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { runCli } from "./runCli.js";

/**
 * `tokbench bench` as a new user first runs it (`npm start`): a fresh cache, no flags. The real
 * default model (Qwen2.5-0.5B's shape, 268 MiB) is synthesized, the bandwidth probed, and the
 * quick-start workload run on the real engine: about a minute on 2 idle cores.
 */
describe("the quick start", () => {
  let dir: string;
  let env: Record<string, string>;
  let db: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-quickstart-"));
    env = { XDG_CACHE_HOME: join(dir, "cache"), XDG_DATA_HOME: join(dir, "data") };
    db = join(dir, "runs.sqlite");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("first run: creates the default model, says what it measures, and its figures hold", async () => {
    const run = await runCli(["bench", "--db", db], { env });
    assert.equal(run.code, 0, run.stderr);
    const model = defaultModelPath(join(dir, "cache", "tokbench"), DEFAULT_MODEL);
    assert.ok(statSync(model).size > 250 * 2 ** 20, "the default model has a real model's size");
    assert.match(
      run.stderr,
      /^created the default model .*in [\d.]+ s: .*synthetic-qwen2\.5-0\.5b-q4_0-seed1\.gguf$/m,
    );

    // One header, before the figures: target with size and parameters, workload, storage; wrapped
    // to the terminal's width, its later lines indented.
    const lines = run.stderr.split("\n");
    const start = lines.findIndex((l) => /^measuring( |$)/.test(l));
    assert.ok(start >= 0, run.stderr);
    const end = lines.findIndex((l, i) => i > start && !l.startsWith("  "));
    const headerLines = lines.slice(start, end);
    for (const l of headerLines) assert.ok(l.length <= 100, `${l.length}: ${l}`);
    const header = headerLines.map((l) => l.trim()).join(" ");
    assert.ok(header.replace(/ /g, "").includes(model.replace(/ /g, "")), header);
    assert.match(header, /\(qwen2 494M Q4_0, 268 MiB\) in-process/);
    assert.match(
      header,
      /pp256, tg64 × 3 repetitions \+ 10 requests, concurrency 1, 128 prompt \+ 48 output tokens/,
    );
    assert.ok(header.endsWith(`results -> ${db}`), header);

    // Everything on stdout fits a 100-column terminal; the engine's own figures say "engine".
    for (const line of run.stdout.split("\n")) assert.ok(line.length <= 100, `${line.length}: ${line}`);
    assert.match(run.stdout, /engine-reported decode/);
    assert.doesNotMatch(run.stdout, /server-reported/);
    assert.match(
      run.stdout,
      /^sampled tokbench's process.*peak RSS [\d.]+ (MiB|GiB), mean CPU \d+ % of a core, disk read/m,
    );
    assert.doesNotMatch(run.stdout, /\?B|0\.00 GB|\d B\)/);
    // Three repetitions: a spread; the tg row has a roofline efficiency (the model is far larger
    // than any CPU cache).
    const tg = run.stdout.split("\n").find((l) => l.startsWith("│ tg64"));
    assert.ok(tg, run.stdout);
    assert.match(tg, /±/);
    assert.match(tg, /│ +\d+\.\d │$/);

    // The first run must not flag the client and engine decode rates as disagreeing.
    const store = RunStore.open(db);
    try {
      const [entry] = store.listRuns();
      assert.ok(entry);
      const stored = store.getRun(entry.run_id);
      const requests = stored.requests.toArray();
      assert.equal(requests.length, 10);
      const mismatched = requests.filter((r) => r.flags.includes("timing_mismatch")).length;
      assert.ok(mismatched <= 2, `${mismatched} of 10 requests flagged timing_mismatch`);
      const prebuilt = (stored.config.engine as { build?: string }).build !== "localBuild";
      assert.equal(/^note: prebuilt llama\.cpp binary: .*tokbench engine build/m.test(run.stderr), prebuilt);
    } finally {
      store.close();
    }
  });

  it("second run: reuses the model, shows swept knobs, and no ± for one repetition", async () => {
    const model = defaultModelPath(join(dir, "cache", "tokbench"), DEFAULT_MODEL);
    const before = statSync(model).mtimeMs;
    const run = await runCli(["bench", "--no-save", "--pp", "16", "--tg", "4", "-r", "1", "-b", "64,128"], {
      env,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(statSync(model).mtimeMs, before);
    assert.doesNotMatch(run.stderr, /created the default model/);
    assert.match(run.stderr, /^ {2}pp16, tg4 × 1 repetition$/m);
    assert.match(run.stderr, /^ {2}results not saved \(--no-save\)$/m);
    const head = run.stdout.split("\n").find((l) => l.includes("t/s │"));
    assert.match(head ?? "", /│ b +│/);
    assert.doesNotMatch(run.stdout, /±/);
    assert.match(run.stdout, /b: n_batch/);
  });
});
