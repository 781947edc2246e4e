import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isTokbenchError } from "../../src/errors/TokbenchError.js";
import type { ModelShape } from "../../src/synth/ModelShape.js";
import { findPreset } from "../../src/synth/presets.js";
import { resolveShape } from "../../src/synth/synthesizeModel.js";
import { SYNTH_MAX_FILE_BYTES } from "../../src/synth/synthLimits.js";
import { CLI, type CliRun, runCli } from "./runCli.js";

const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/**
 * A refusal as the house rules want it: one line on stderr with the code, no stack; exit 2 for a
 * wrong command line (INVALID_ARGUMENT), 1 for the rest.
 */
function assertOneLineError(run: { code: number | null; stderr: string }, code: string): void {
  assert.equal(run.code, code === "INVALID_ARGUMENT" ? 2 : 1, run.stderr);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, run.stderr);
  assert.match(lines[0] ?? "", new RegExp(`^tokbench: .*\\[${code}\\]$`));
  assert.doesNotMatch(run.stderr, /\n\s+at /);
}

/**
 * Runs a synth of ~1 GiB (F16 on one thread: seconds of writing) to `out` and sends `signal` once
 * 16 MiB of it are written, midway.
 */
async function signalMidWrite(
  out: string,
  extra: string[],
  signal: NodeJS.Signals,
): Promise<{ run: CliRun; pid: number; partialBytes: number }> {
  let pid = 0;
  let partialBytes = 0;
  const run = await runCli(
    ["synth", "--preset", "qwen2.5-0.5b", "--type", "f16", "--threads", "1", "--out", out, ...extra],
    {
      onStart(child) {
        pid = child.pid ?? 0;
        const timer = setInterval(() => {
          try {
            partialBytes = statSync(`${out}.tmp-${pid}`).size;
          } catch {
            return;
          }
          if (partialBytes >= 16 * 2 ** 20) {
            clearInterval(timer);
            child.kill(signal);
          }
        }, 20);
        child.on("close", () => clearInterval(timer));
      },
    },
  );
  return { run, pid, partialBytes };
}

/** Nothing a terminal would act on: ESC, BEL, the one-byte CSI. */
function assertNoControls(text: string): void {
  for (const control of ["\u001b", "\u0007", "\u009b"])
    assert.ok(!text.includes(control), JSON.stringify(text));
}

describe("tokbench synth refuses absurd shapes before allocating anything, and never replaces or half-writes a file", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-synth-cli-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("--layers 1e9 --embd 100000 fails in well under a second of work, with one line", async () => {
    const out = join(dir, "huge.gguf");
    const started = performance.now();
    const run = await runCli(["synth", "--layers", "1e9", "--embd", "100000", "--out", out]);
    const ms = performance.now() - started;
    assertOneLineError(run, "SYNTH_INVALID_SHAPE");
    // Process start-up included (~0.5 s); before the check this grew to a 4 GB heap for 50 s.
    assert.ok(ms < 10_000, `took ${ms} ms`);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(dir), []);
  });

  it("validates every shape flag: integers, ranges, head divisibility, MoE-only flags", async () => {
    // Shape rules, through the library (no process per case).
    const shapes: [string, Partial<ModelShape>][] = [
      ["tiny", { blockCount: 1e9 }],
      ["tiny", { blockCount: 0 }],
      ["tiny", { vocabSize: 1e12 }],
      ["tiny", { vocabSize: 100 }],
      ["tiny", { embeddingLength: 100 }],
      ["tiny", { embeddingLength: 1e6, headDim: 64 }],
      ["tiny", { headCount: 7 }],
      ["tiny", { headCountKv: 16 }],
      ["tiny", { headDim: 33 }],
      ["tiny", { contextLength: 1e10 }],
      ["tiny", { feedForwardLength: 2.5 }],
      ["tiny", { expertCount: 4 }],
      ["tiny", { expertUsedCount: 2 }],
      ["tiny-moe", { expertUsedCount: 9 }],
      ["tiny-moe", { expertCount: 100_000 }],
    ];
    for (const [preset, shape] of shapes) {
      assert.throws(
        () => resolveShape(preset, shape),
        (e: unknown) => isTokbenchError(e, "SYNTH_INVALID_SHAPE") && !e.message.includes("\n"),
        JSON.stringify(shape),
      );
    }
    // What the command line adds: numbers that are not integers, and the worker count.
    const cases: [string[], string][] = [
      [["--layers", "2.5"], "INVALID_ARGUMENT"],
      [["--ff", "abc"], "INVALID_ARGUMENT"],
      [["--kv-heads", "16"], "SYNTH_INVALID_SHAPE"],
      [["--threads", "100000"], "INVALID_ARGUMENT"],
    ];
    for (const [flags, code] of cases) {
      const out = join(dir, "bad.gguf");
      const run = await runCli(["synth", ...flags, "--out", out]);
      assertOneLineError(run, code);
      assert.equal(existsSync(out), false, flags.join(" "));
    }
    assert.deepEqual(readdirSync(dir), []);
  });

  it("refuses a file larger than the free disk, or than synth's maximum, before writing", async () => {
    const free = (() => {
      const s = statfsSync(dir);
      return s.bavail * s.bsize;
    })();
    // The largest preset at F32 with enough layers to outgrow the free space, within the maximum.
    const preset = findPreset("qwen3-30b-a3b");
    assert.ok(preset);
    const perLayer = (30.5e9 * 4) / preset.shape.blockCount;
    const layers = Math.min(1024, Math.ceil((free * 1.2) / perLayer));
    const out = join(dir, "big.gguf");
    if (layers * perLayer < SYNTH_MAX_FILE_BYTES) {
      const run = await runCli([
        "synth",
        "--preset",
        "qwen3-30b-a3b",
        "--type",
        "f32",
        "--layers",
        String(layers),
        "--out",
        out,
      ]);
      assertOneLineError(run, "SYNTH_TOO_LARGE");
      assert.match(run.stderr, /free/);
    }
    const max = await runCli([
      "synth",
      "--preset",
      "qwen3-30b-a3b",
      "--type",
      "f32",
      "--layers",
      "1024",
      "--out",
      out,
    ]);
    assertOneLineError(max, "SYNTH_TOO_LARGE");
    assert.match(max.stderr, /maximum/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it("refuses a vocabulary whose header would not fit in the JavaScript heap left", async () => {
    const out = join(dir, "vocab.gguf");
    const run = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        ["--max-old-space-size=48", CLI, "synth", "--vocab", "1000000", "--out", out],
        { stdio: ["ignore", "ignore", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (b: Buffer) => {
        stderr += b.toString();
      });
      child.on("close", (code) => resolve({ code, stderr }));
    });
    assertOneLineError(run, "SYNTH_TOO_LARGE");
    assert.match(run.stderr, /heap/);
    assert.equal(existsSync(out), false);
  });

  it("refuses an existing --out unless --force, and --force replaces it whole", async () => {
    const out = join(dir, "model.gguf");
    writeFileSync(out, "precious\n");
    const refused = await runCli(["synth", "--preset", "tiny", "--out", out]);
    assertOneLineError(refused, "FILE_EXISTS");
    assert.match(refused.stderr, /--force/);
    assert.equal(readFileSync(out, "utf8"), "precious\n");

    const forced = await runCli(["synth", "--preset", "tiny", "--out", out, "--force"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(readFileSync(out).subarray(0, 4).toString(), "GGUF");
    assert.deepEqual(readdirSync(dir), ["model.gguf"]);
  });

  it("a synth killed mid-write leaves nothing under the final name, and the old file intact", async () => {
    const fresh = join(dir, "fresh.gguf");
    const replaced = join(dir, "replaced.gguf");
    writeFileSync(replaced, "the old model\n");
    const oldHash = sha(replaced);
    for (const [out, extra] of [
      [fresh, []],
      [replaced, ["--force"]],
    ] as const) {
      const { run, pid, partialBytes } = await signalMidWrite(out, [...extra], "SIGKILL");
      assert.equal(run.signal, "SIGKILL", `synth finished before it was killed: ${run.stdout}`);
      assert.ok(partialBytes >= 16 * 2 ** 20);
      if (out === fresh) assert.equal(existsSync(fresh), false);
      else assert.equal(sha(replaced), oldHash);
      assert.ok(existsSync(`${out}.tmp-${pid}`), "the partial file stays under its temporary name");
    }
    // The next synth to the same name removes the dead one's partial file.
    const again = await runCli(["synth", "--preset", "tiny", "--out", fresh]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(readFileSync(fresh).subarray(0, 4).toString(), "GGUF");
    assert.equal(readdirSync(dir).filter((n) => n.startsWith("fresh.gguf.tmp-")).length, 0);
  });

  it("a path with terminal controls is printed escaped, in the summary line and in --json", async () => {
    const out = join(dir, "evil\u001b]0;pwned\u0007\u009b2J.gguf");
    const run = await runCli(["synth", "--preset", "tiny", "--out", out]);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(existsSync(out), "the file has the name asked for");
    assertNoControls(run.stdout);
    assert.ok(run.stdout.includes("evil\\x1b]0;pwned\\x07\\u009b2J.gguf: llama,"), run.stdout);
    const json = await runCli(["synth", "--preset", "tiny", "--out", out, "--force", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    // JSON escapes C0 controls itself; the C1 CSI is escaped too, and the value reads back whole.
    assertNoControls(json.stdout);
    assert.equal(JSON.parse(json.stdout).path, out);
  });

  it("SIGTERM mid-write stops cleanly: one line, exit 143, no partial file, --out untouched", async () => {
    for (const force of [false, true]) {
      const out = join(dir, force ? "stopped-old.gguf" : "stopped-new.gguf");
      if (force) writeFileSync(out, "the old model\n");
      const oldHash = force ? sha(out) : null;
      const { run, pid } = await signalMidWrite(out, force ? ["--force"] : [], "SIGTERM");
      assert.equal(run.signal, null, "it exited by itself, not by the default action");
      assert.equal(run.code, 143, run.stderr);
      const lines = run.stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, run.stderr);
      assert.match(
        lines[0] ?? "",
        force
          ? /^tokbench: stopped by SIGTERM while writing: .*stopped-old\.gguf was left as it was \[RUN_INTERRUPTED\]$/
          : /^tokbench: stopped by SIGTERM while writing: .*stopped-new\.gguf was not created \[RUN_INTERRUPTED\]$/,
      );
      assert.equal(existsSync(`${out}.tmp-${pid}`), false, "the partial file is removed");
      if (force) assert.equal(sha(out), oldHash);
      else assert.equal(existsSync(out), false);
    }
  });
});
