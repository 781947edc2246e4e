import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileSha256 } from "../../src/tune/recipe.js";
import { readHashedReplayFile } from "../../src/tune/replaySource.js";

const LINES = [
  '{"knobs":{"parallel":1},"status":"ok","output_tokens_per_s":10,"ttft_p95_ms":50}',
  '{"knobs":{"parallel":2},"status":"oom"}',
  "",
].join("\n");

describe("replay file hash", () => {
  it("is the SHA-256 of the bytes parsed, the same as the file's", async () => {
    const dir = await mkdtemp(join(tmpdir(), "tokbench-replay-"));
    try {
      const file = join(dir, "cells.jsonl");
      await writeFile(file, LINES);
      const read = readHashedReplayFile(file);
      assert.equal(read.records.length, 2);
      assert.equal(read.sha256, await fileSha256(file));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // `tune --replay <(...)` hands tokbench a pipe that can be read only once: hashing it by reading
  // it again gave the hash of nothing.
  it("of a pipe, read once, is the hash of what came through it", {
    skip: process.platform === "win32",
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "tokbench-replay-"));
    try {
      const file = join(dir, "cells.jsonl");
      const fifo = join(dir, "cells.fifo");
      await writeFile(file, LINES);
      execFileSync("mkfifo", [fifo]);
      // The writer is another process: this one blocks in the synchronous read until it writes.
      const writer = spawn("sh", ["-c", 'cat "$1" > "$2"', "sh", file, fifo], { stdio: "ignore" });
      const read = readHashedReplayFile(fifo);
      await new Promise((resolve) => writer.once("exit", resolve));
      assert.equal(read.records.length, 2);
      assert.equal(read.sha256, await fileSha256(file));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
