import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import type { TraceLevel } from "../../src/trace/TraceEvent.js";
import { TraceWriter } from "../../src/trace/TraceWriter.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-trace-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function writeSample(level: TraceLevel): Record<string, unknown>[] {
  const path = join(dir, `${level}.ndjson`);
  const trace = TraceWriter.open(path, level);
  trace.sessionStart({
    started_at: "2025-01-01T00:00:00.000Z",
    tool: { name: "tokbench", version: "0.0.0" },
    model: { model_filename: "m.gguf" },
    engine: { backend: "cpu" },
    config: { threads: 1 },
    tensors: [{ name: "token_embd.weight", type: "Q8_0", shape: [256, 4096] }],
  });
  const t0 = performance.now() - 10; // steps in the past, so session_end comes after them
  trace.generationStart(
    { id: "g0", sequence: 0, prompt_tokens: 3, max_tokens: 2, n_depth: 0, settings: {} },
    t0,
  );
  trace.step("g0", { kind: "prefill", index: 0, tokens: 3, t_start_ms: t0, t_end_ms: t0 + 1.5, token: 7 });
  trace.step("g0", {
    kind: "decode",
    index: 0,
    tokens: 1,
    t_start_ms: t0 + 1.5,
    t_end_ms: t0 + 2.25,
    token: 9,
  });
  trace.generationEnd(
    {
      id: "g0",
      prompt_tokens: 3,
      output_tokens: 2,
      prefill_batches: 1,
      ttft_ms: 1.5,
      decode_ms: 0.75,
      total_ms: 2.25,
      engine: null,
      error: null,
    },
    t0 + 2.25,
  );
  trace.sessionEnd("completed");
  trace.sessionEnd("completed"); // idempotent
  return readFileSync(path, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line));
}

it("writes one JSON object per line, session first and last, steps inside their generation", () => {
  const events = writeSample("detailed");
  assert.deepEqual(
    events.map((e) => e.event),
    ["session_start", "generation_start", "prefill_batch", "decode_step", "generation_end", "session_end"],
  );
  const [start, , prefill, decode, end, last] = events as Record<string, number | string | undefined>[];
  assert.equal(start?.schema_version, 1);
  assert.equal(start?.t_ms, 0);
  assert.equal(start?.level, "detailed");
  assert.equal(start?.tensors, undefined, "tensors only at verbose");
  assert.deepEqual([prefill?.tokens, prefill?.duration_ms, prefill?.token], [3, 1.5, 7]);
  assert.equal(decode?.duration_ms, 0.75);
  assert.equal(decode?.t_start_ms, prefill?.t_end_ms);
  assert.equal(end?.output_tokens, 2);
  assert.equal(last?.generations, 1);
  assert.equal(last?.status, "completed");
  assert.ok(Number(last?.t_ms) >= Number(end?.t_ms));
});

it("minimal drops steps; verbose adds the tensor table", () => {
  assert.deepEqual(
    writeSample("minimal").map((e) => e.event),
    ["session_start", "generation_start", "generation_end", "session_end"],
  );
  const verbose = writeSample("verbose");
  assert.deepEqual(verbose[0]?.tensors, [{ name: "token_embd.weight", type: "Q8_0", shape: [256, 4096] }]);
  assert.equal(verbose.length, 6);
});

it("fails with a clear error when the file cannot be created", () => {
  assert.throws(
    () => TraceWriter.open(join(dir, "missing-dir", "t.ndjson"), "minimal"),
    /cannot write trace file/,
  );
});

it("a trace that cannot be written is FILE_UNWRITABLE with the system's reason", (t) => {
  const missing = join(dir, "no-such-folder", "trace.ndjson");
  assert.throws(
    () => TraceWriter.open(missing, "detailed"),
    (error: Error & { code?: string }) =>
      error.code === "FILE_UNWRITABLE" &&
      error.message ===
        `cannot write trace file ${missing}: ${`ENOENT: no such file or directory, open '${missing}'`}`,
  );
  // A full disk: Linux's /dev/full opens for writing and fails every write with ENOSPC.
  if (process.platform !== "linux") {
    t.skip("/dev/full is Linux's");
    return;
  }
  const full = TraceWriter.open("/dev/full", "minimal");
  assert.throws(
    () =>
      full.sessionStart({
        started_at: "2025-01-01T00:00:00.000Z",
        tool: { name: "tokbench", version: "0.0.0" },
        model: {},
        engine: {},
        config: {},
      }),
    (error: Error & { code?: string }) =>
      error.code === "FILE_UNWRITABLE" &&
      /^cannot write trace file \/dev\/full: ENOSPC: no space left on device/.test(error.message),
  );
});
