import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EngineBinding } from "../../src/engine/EngineBinding.js";
import { singlePointKnobs } from "../../src/engine/EngineGrid.js";
import { runLlamaBench } from "../../src/engine/runLlamaBench.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { TRACE_LEVELS } from "../../src/trace/TraceEvent.js";
import { TraceWriter } from "../../src/trace/TraceWriter.js";
import { validateTrace } from "../../src/trace/traceSchema.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-trace-schema-"));
const model = join(dir, "tiny.gguf");
let binding: EngineBinding;

before(async () => {
  await synthesizeModel({ preset: "tiny", type: "q8_0", seed: 2, out: model });
  binding = await EngineBinding.open({ gpu: false });
});
after(async () => {
  await binding?.llama.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A real trace of a plain (unobserved) run at `level`. */
async function plainTrace(level: (typeof TRACE_LEVELS)[number]): Promise<string> {
  const path = join(dir, `${level}.ndjson`);
  const trace = TraceWriter.open(path, level);
  trace.sessionStart({
    started_at: new Date().toISOString(),
    tool: { name: "tokbench", version: "test" },
    model: { n_layer: 4 },
    engine: {},
    config: {},
    tensors: [{ name: "token_embd.weight", type: "Q8_0", shape: [256, 4096] }],
  });
  await runLlamaBench({
    model_path: model,
    binding,
    knobs: singlePointKnobs(1, { parallel: [1, 2] }),
    plan: { pp: [8], tg: [3], pg: [], depth: [0] },
    repetitions: 1,
    measure_load: false,
    trace,
  });
  trace.sessionEnd("completed");
  return readFileSync(path, "utf8");
}

describe("validateTrace", () => {
  for (const level of TRACE_LEVELS) {
    it(`a real ${level} trace of a plain run is valid`, async () => {
      const text = await plainTrace(level);
      assert.deepEqual(validateTrace(text), []);
      const steps = text.split("\n").filter((l) => l.includes('"decode_step"')).length;
      assert.equal(steps > 0, level !== "minimal");
    });
  }

  const lines = (...events: object[]) => events.map((e) => JSON.stringify(e)).join("\n");
  const start = {
    event: "session_start",
    schema_version: 1,
    t_ms: 0,
    level: "detailed",
    started_at: "2026-01-01T00:00:00.000Z",
    tool: { name: "tokbench", version: "x" },
    model: {},
    engine: {},
    config: {},
  };
  const gen = {
    event: "generation_start",
    t_ms: 1,
    id: "g",
    sequence: 0,
    prompt_tokens: 1,
    max_tokens: 1,
    n_depth: 0,
    settings: {},
  };
  const tensor = {
    event: "tensor",
    t_ms: 2,
    id: "g",
    step: "decode_step",
    index: 0,
    node: 0,
    part: "layer",
    layer: 0,
    name: "attn_norm-0",
    op: "MUL",
    type: "f32",
    shape: [256, 1],
    bytes: 1024,
    elements: 256,
    inputs: ["norm-0", "blk.0.attn_norm.weight"],
  };

  it("rejects data a tensor event must not carry, and tensor events below verbose", () => {
    const withData = lines({ ...start, level: "verbose" }, gen, { ...tensor, data: [0.1, 0.2] });
    assert.match(validateTrace(withData)[0]?.message ?? "", /tensor: .*[Uu]nrecognized key/);
    const detailed = validateTrace(lines(start, gen, tensor));
    assert.deepEqual(
      detailed.map((p) => p.message),
      ["tensor at level detailed"],
    );
    const badElements = validateTrace(lines({ ...start, level: "verbose" }, gen, { ...tensor, elements: 3 }));
    assert.match(badElements[0]?.message ?? "", /elements is the product of shape/);
  });

  it("rejects a layer event outside its generation, a layer index on the input part, and a bad first line", () => {
    const layer = {
      event: "layer",
      t_ms: 2,
      id: "other",
      step: "decode_step",
      index: 0,
      part: "input",
      layer: 3,
      t_start_ms: 1,
      t_end_ms: 2,
      duration_ms: 1,
    };
    assert.match(validateTrace(lines(start, gen, layer))[0]?.message ?? "", /layer is set exactly for part/);
    assert.deepEqual(
      validateTrace(lines(start, gen, { ...layer, layer: null })).map((p) => p.message),
      ["layer outside generation other"],
    );
    assert.equal(validateTrace(lines(gen))[0]?.message, "the first event must be session_start");
    assert.equal(validateTrace("{")[0]?.message, "not JSON");
  });
});
