import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderTune, type TuneReport, trialLine } from "../../src/output/terminal/renderTune.js";
import type { TrialRecord } from "../../src/results/TuneResult.js";

function trial(overrides: Partial<TrialRecord>): TrialRecord {
  return {
    index: 0,
    stage: "search",
    kind: "candidate",
    configuration: { parallel: 4, model: "/models/q.gguf" },
    replicates: [],
    status: "feasible",
    failure: null,
    reason: null,
    value: 30,
    ttft_p95_ms: 900,
    spread: 0.05,
    reference: 10,
    elapsed_ms: 1000,
    ...overrides,
  };
}

function report(overrides: Partial<TuneReport>): TuneReport {
  const baseline = trial({ index: 0, kind: "baseline", value: 10 });
  const best = trial({ index: 1, value: 30 });
  return {
    tune_id: "t1",
    exit_reason: "found",
    exit_detail: null,
    objective_unit: "tok/s",
    trials: [baseline, best],
    max_trials: 12,
    best,
    baseline,
    gain: 2,
    latest_baseline: null,
    gain_vs_latest_baseline: null,
    tie_band: 0.04,
    max_drift: 0,
    anchors: 0,
    configurations_measured: 2,
    grid_size: 120,
    rejected: [],
    not_measured: [],
    chosen_model: null,
    command: "llama-server -m q.gguf -np 4",
    bench_command: "tokbench bench --url http://127.0.0.1:8080/v1",
    recipe_hash: "sha256:ab",
    ...overrides,
  };
}

describe("renderTune", () => {
  it("a progress line: the figure and the best so far, or the failure class once and the reason", () => {
    const ok = trialLine(trial({ index: 2 }), 12, trial({ value: 30 }), 2, "tok/s");
    assert.equal(
      ok,
      "trial 3 of at most 12 [candidate] parallel=4 model=q.gguf: 30.0 tok/s ±5.0 %; best 30.0 tok/s (+200.0 % over the baseline)\n",
    );
    const failed = trialLine(
      trial({
        status: "failed",
        failure: "crash",
        reason: "crash: server failed to start\u001b[2J",
        value: null,
      }),
      12,
      null,
      null,
      "tok/s",
    );
    assert.match(
      failed,
      /: failed \(crash\): server failed to start\\x1b\[2J; no feasible configuration yet\n$/,
    );
    assert.doesNotMatch(failed, /crash\): crash:/);
    assert.ok(!failed.includes("\u001b"), "a control character reached the terminal");
  });

  it("the report: the recommendation, its commands and the recipe hash; drift above 10 % is called out", () => {
    const calm = renderTune(report({ anchors: 1, max_drift: 0.03 }));
    assert.match(
      calm,
      /exit: found; 2 trials of at most 12, 2 of 120 configurations measured; tie band 4\.0 %/,
    );
    assert.match(calm, /drift: the baseline moved by up to \+3\.0 % over 1 anchor\(s\)\n/);
    assert.doesNotMatch(calm, /machine changed/);
    assert.match(
      calm,
      /recommendation: parallel=4 model=q\.gguf: 30\.0 tok\/s \(baseline 10\.0, \+200\.0 %\)/,
    );
    assert.match(calm, /\n {2}serve: llama-server -m q\.gguf -np 4\n {2}verify: tokbench bench/);
    assert.match(calm, /\nrecipe sha256:ab$/);
    const drifted = renderTune(report({ anchors: 2, max_drift: -0.14 }));
    assert.match(
      drifted,
      /moved by up to -14\.0 % over 2 anchor\(s\) — above 10 %: the machine changed under the tune/,
    );
    assert.doesNotMatch(
      drifted,
      /against the latest baseline/,
      "no anchor trial given: nothing to compare with",
    );
    // With the anchor's measurement, the gain against it is shown beside the first baseline's.
    const anchored = renderTune(
      report({
        anchors: 1,
        max_drift: 0.5,
        latest_baseline: trial({ index: 9, kind: "anchor", value: 15 }),
        gain_vs_latest_baseline: 1,
      }),
    );
    assert.match(
      anchored,
      /\(baseline 10\.0, \+200\.0 %\)\n {2}against the latest baseline \(trial 10: 15\.0 tok\/s\): \+100\.0 %\n/,
    );
    const calmAnchored = renderTune(
      report({
        anchors: 1,
        max_drift: 0.05,
        latest_baseline: trial({ index: 9, kind: "anchor", value: 10.5 }),
        gain_vs_latest_baseline: 1.857,
      }),
    );
    assert.doesNotMatch(
      calmAnchored,
      /against the latest baseline/,
      "shown only when the drift is above 10 %",
    );
    const hostile = renderTune(report({ command: "llama-server \u001b]0;owned\u0007" }));
    assert.ok(!hostile.includes("\u001b"), "a control character reached the terminal");
  });
});
