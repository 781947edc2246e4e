/*
 * What each kind of graph observation costs: for every kind (graph tensors only, router counts only,
 * layer timing only, all three) the same observed pass runs the tests, each observed generation paired
 * with the same generation unobserved, and the overhead compares each observed llama_decode with the
 * same step unobserved, on the wall clock and on the process's CPU time (docs/trace.md,
 * `overhead_pct`, `overhead_cpu_pct`). The reference is measured in the same run, step for step.
 * Prints figures; asserts nothing. Needs `npm run build:observer`.
 *
 * Usage: node dist/bench/observerOverhead.js [--model m.gguf] [--pp 64] [--tg 16] [--repetitions 3]
 *        [--threads 1] [--kinds tensors,experts,layers,all]
 * Without --model it synthesizes the tiny-moe preset (Q8_0) into a temporary directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EngineBinding } from "../src/engine/EngineBinding.js";
import { singlePointKnobs } from "../src/engine/EngineGrid.js";
import { inspectModelFile } from "../src/engine/loadEngineModel.js";
import { GraphObserver, type ObserveWhat } from "../src/engine/observe/GraphObserver.js";
import { runObservedTests } from "../src/engine/observe/runObservedTests.js";
import { synthesizeModel } from "../src/synth/synthesizeModel.js";
import { parseBenchArgs } from "./benchArgs.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["pp", "tg", "repetitions", "threads"],
  options: {
    model: { type: "string" },
    pp: { type: "string", default: "64" },
    tg: { type: "string", default: "16" },
    repetitions: { type: "string", default: "3" },
    threads: { type: "string", default: "1" },
    kinds: { type: "string", default: "tensors,experts,layers,all" },
  },
});

const KINDS: Record<string, ObserveWhat> = {
  tensors: { experts: false, layers: false, tensors: true },
  experts: { experts: true, layers: false, tensors: false },
  layers: { experts: false, layers: true, tensors: false },
  all: { experts: true, layers: true, tensors: true },
};

const observer = GraphObserver.load(); // before the binding
const binding = await EngineBinding.open({ gpu: false });
let tmp: string | null = null;
let model = values.model;
if (model === undefined) {
  tmp = mkdtempSync(join(tmpdir(), "tokbench-observer-bench-"));
  model = join(tmp, "tiny-moe.gguf");
  await synthesizeModel({ preset: "tiny-moe", type: "q8_0", seed: 1, out: model });
}
const file = await inspectModelFile(model);
const { inspection } = file;
const threads = Number(values.threads);
const pp = Number(values.pp);
const tg = Number(values.tg);
console.log(
  `model ${model}: ${inspection.hyperparameters.block_count} layers, ${inspection.hyperparameters.expert_count ?? 0} experts; pp${pp} tg${tg}, ${values.repetitions} observed + ${values.repetitions} unobserved generations each, ${threads} thread(s), build ${binding.describe().build}`,
);
console.log(
  "kind      phase      wall ms/step obs / unobs  overhead     CPU ms/step obs / unobs  overhead (CPU)",
);
try {
  for (const kind of values.kinds.split(",")) {
    const what = KINDS[kind];
    if (what === undefined) throw new Error(`unknown kind ${kind}`);
    const result = await runObservedTests({
      model_file: file,
      binding,
      observer,
      what,
      knobs: singlePointKnobs(threads),
      plan: { pp: pp > 0 ? [pp] : [], tg: tg > 0 ? [tg] : [], pg: [], depth: [0] },
      repetitions: Number(values.repetitions),
    });
    for (const o of result.observation.overhead) {
      const f = (x: number | null) => (x === null ? "-" : x.toFixed(3));
      const pct = (x: number | null) => (x === null ? "-" : `${x >= 0 ? "+" : ""}${x.toFixed(1)} %`);
      const wall = `${f(o.observed_decode_ms_mean)} / ${f(o.unobserved_decode_ms_mean)}`;
      const cpu = `${f(o.observed_cpu_ms_mean)} / ${f(o.unobserved_cpu_ms_mean)}`;
      console.log(
        `${kind.padEnd(9)} ${o.phase.padEnd(8)} ${wall.padStart(26)}  ${pct(o.overhead_pct).padStart(8)}  ${cpu.padStart(26)}  ${pct(o.overhead_cpu_pct).padStart(8)}`,
      );
    }
  }
} finally {
  await binding.llama.dispose();
  if (tmp !== null) rmSync(tmp, { recursive: true, force: true });
}
