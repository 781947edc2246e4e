import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CLI, runCli } from "./runCli.js";

/** Whether util-linux's `script` is here: it gives a command a real pseudo-terminal. */
function haveScript(): boolean {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Runs tokbench on a pseudo-terminal (`script`), as a user at a terminal does; returns what it wrote there. */
function runOnTerminal(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const child = spawn("script", ["-qec", command, "/dev/null"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out })));
}

describe("long work shows a bar on a terminal and nothing on a pipe", {
  skip: !haveScript() && "no `script` command (util-linux) to give tokbench a terminal",
}, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-tty-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("synth: a bar with the bytes written on a terminal; on a pipe, only the result line", async () => {
    const tty = await runOnTerminal(
      ["synth", "--preset", "tiny", "--type", "f16", "--out", join(dir, "tty.gguf")],
      {},
    );
    assert.equal(tty.code, 0, tty.out);
    assert.match(tty.out, /synth tiny [█░]+ [\d.]+ (B|KiB|MiB)\/[\d.]+ MiB/);

    const piped = await runCli([
      "synth",
      "--preset",
      "tiny",
      "--type",
      "f16",
      "--out",
      join(dir, "pipe.gguf"),
    ]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stderr, "", "no bar, no escape codes on a pipe");
    assert.ok(!piped.stdout.includes("\u001b") && !piped.stdout.includes("█"), piped.stdout);
  });

  it("the first bandwidth probe: a bar on a terminal, none with --no-progress", async () => {
    const env = { XDG_CACHE_HOME: join(dir, "cache") };
    const model = join(dir, "tty.gguf");
    const tty = await runOnTerminal(["roofline", model, "--reprobe"], env);
    assert.equal(tty.code, 0, tty.out);
    assert.match(tty.out, /probing memory bandwidth [█░]+ \d+\/\d+/);

    const quiet = await runOnTerminal(["roofline", model, "--reprobe", "--no-progress"], env);
    assert.equal(quiet.code, 0, quiet.out);
    assert.doesNotMatch(quiet.out, /probing memory bandwidth/);
  });
});
