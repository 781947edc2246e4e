import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GraphObserver } from "../../../src/engine/observe/GraphObserver.js";
import type { RunResult } from "../../../src/results/RunResult.js";
import { synthesizeModel } from "../../../src/synth/synthesizeModel.js";
import { runCli } from "../../cli/runCli.js";

const dir = mkdtempSync(join(tmpdir(), "tokbench-observer-cli-"));
const model = join(dir, "tiny-moe.gguf");
before(() => synthesizeModel({ preset: "tiny-moe", type: "q8_0", seed: 1, out: model }));
after(() => rmSync(dir, { recursive: true, force: true }));

it("without the graph observer, --experts fails on one line that says how to build it", async () => {
  const run = await runCli(["bench", "--model", model, "--tg", "4", "--experts", "--no-save"], {
    env: { TOKBENCH_GRAPH_OBSERVER: join(dir, "missing", "observer.node") },
  });
  assert.equal(run.code, 1);
  assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  assert.match(
    run.stderr,
    /^tokbench: the graph observer is not built: run `npm run build:observer`.*\[OBSERVER_UNAVAILABLE\]$/m,
  );
  assert.equal(run.stdout, "");
});

const skip = GraphObserver.isAvailable() ? false : "the graph observer is not built (npm run build:observer)";

describe("tokbench bench --experts --layers", { skip }, () => {
  it("--json gives expert_usage and layer_timing, marked as no speed figures, and no tests rows", async () => {
    const run = await runCli([
      "bench",
      "--model",
      model,
      "--tg",
      "6",
      "--experts",
      "--layers",
      "--repetitions",
      "1",
      "--json",
      "--db",
      join(dir, "runs.db"),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as RunResult;
    assert.equal(result.observation?.speed_figures, false);
    assert.deepEqual(result.observation?.kinds, ["experts", "layers"]);
    assert.deepEqual(result.tests, []);
    assert.equal(result.expert_usage?.generated_tokens, 6);
    assert.deepEqual(
      result.expert_usage?.layers.map((l) => l.selections),
      [12, 12],
    );
    assert.deepEqual(
      result.layer_timing?.map((t) => [t.test, t.phase, t.steps, t.layers.length]),
      [["tg6", "decode", 6, 2]],
    );
    assert.equal((result.config.observation as { speed_figures: boolean }).speed_figures, false);
  });

  it("prints the heat table, hot and cold experts and the llama.cpp placement", async () => {
    const run = await runCli(["bench", "--model", model, "--pp", "32", "--experts", "-r", "1", "--no-save"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^observation run \(experts\): .*not a speed measurement/m);
    assert.match(run.stdout, /^L0 \|.{8}\| 80 % in \d$/m);
    assert.match(run.stdout, /^hot: {2}L\d E\d: /m);
    assert.match(run.stdout, /^cold: L\d E\d: /m);
    assert.match(
      run.stdout,
      /-ngl 99 --override-tensor "blk\\\.\(\d\)\\\.ffn_\(up\|gate\|down\)_exps\\\.weight=CPU"/,
    );
    assert.doesNotMatch(run.stdout, /TTFT/, "no request summary for an observation run");
  });

  it("refuses a request workload and several configurations, naming the flags", async () => {
    const requests = await runCli(["bench", "--model", model, "--experts", "--requests", "2", "--no-save"]);
    assert.equal(requests.code, 2, "a wrong command line");
    assert.match(requests.stderr, /not a request workload .*\[INVALID_ARGUMENT\]/);
    const grid = await runCli([
      "bench",
      "--model",
      model,
      "--tg",
      "4",
      "--layers",
      "--threads",
      "1,2",
      "--no-save",
    ]);
    assert.equal(grid.code, 2);
    assert.match(
      grid.stderr,
      /observe one configuration; the knobs give 2: pass one value per knob \[INVALID_ARGUMENT\]/,
    );
  });
});
