import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderReportHtml } from "../../src/output/html/renderReportHtml.js";
import { collectSweepReport, paretoFront } from "../../src/report/collectSweepReport.js";
import { collectTuneReport } from "../../src/report/collectTuneReport.js";
import type { CellResult, CellStatus } from "../../src/results/SweepResult.js";
import type { TrialRecord } from "../../src/results/TuneResult.js";
import type { StoredSweep } from "../../src/storage/SweepStore.js";
import type { StoredTune } from "../../src/storage/TuneStore.js";

function cell(
  index: number,
  knobs: Record<string, number | string>,
  concurrency: number,
  status: CellStatus,
  tps: number | null,
  ttft: number | null,
  reason: string | null = null,
  failure: string | null = null,
): CellResult {
  const p = (v: number | null) => ({ p50: v, p95: v, p99: v });
  return {
    index,
    key: JSON.stringify([...Object.values(knobs), concurrency]),
    knobs,
    workload: { concurrency, prompt_tokens: 32, max_tokens: 16 },
    status,
    reason,
    failure,
    memory_failure: failure === "oom",
    notes: [],
    run_id: tps === null ? null : `run-${index}`,
    run_ids: tps === null ? [] : [`run-${index}`],
    summary:
      tps === null
        ? null
        : {
            ttft_ms: p(ttft),
            itl_ms: p(10),
            e2e_ms: p(100),
            output_tokens_per_s: tps,
            requests_per_s: tps / 16,
            goodput_rps: tps / 16,
            goodput_share: 1,
            requests: 8,
            failed: 0,
          },
    replicates: [],
    skipped_because: null,
    log_path: null,
  };
}

function sweep(cells: CellResult[], objective = "throughput"): StoredSweep {
  return {
    sweep_id: "sweep-1",
    tool_version: "0.1.0",
    started_at: "2026-01-01T00:00:00.000Z",
    ended_at: "2026-01-01T00:01:00.000Z",
    status: "completed",
    status_reason: null,
    spec: { provider: "template", objective, budgets: { max_ttft_p95_ms: 500, max_itl_p95_ms: null } },
    planned_cells: cells.length,
    timing: null,
    cells,
    pending_replicates: new Map(),
  };
}

describe("a sweep's report data", () => {
  // ctx 2048 and 8192 x parallel 1 and 4 x concurrency 1, 4, 8. One slot saturates at once; four
  // slots scale to 4; ctx 8192 with 4 slots runs out of memory at concurrency 4.
  const cells = [
    cell(0, { ctx: 2048, parallel: 1 }, 1, "feasible", 50, 70),
    cell(1, { ctx: 2048, parallel: 1 }, 4, "infeasible", 51, 1000, "TTFT p95 1000 ms > 500 ms"),
    cell(2, { ctx: 2048, parallel: 1 }, 8, "infeasible", 51, 2200, "TTFT p95 2200 ms > 500 ms"),
    cell(3, { ctx: 2048, parallel: 4 }, 1, "feasible", 50, 75),
    cell(4, { ctx: 2048, parallel: 4 }, 4, "feasible", 115, 240),
    cell(5, { ctx: 2048, parallel: 4 }, 8, "infeasible", 116, 770, "TTFT p95 770 ms > 500 ms"),
    cell(6, { ctx: 8192, parallel: 1 }, 1, "feasible", 47, 140),
    cell(7, { ctx: 8192, parallel: 4 }, 1, "feasible", 50, 80),
    cell(8, { ctx: 8192, parallel: 4 }, 4, "failed", 0, 50, "server died during the run", "oom"),
    cell(9, { ctx: 8192, parallel: 4 }, 8, "skipped", null, null, "heavier than cell #8"),
  ];
  const data = collectSweepReport(sweep(cells));

  it("takes its axes from the cells, the best cell by the objective, and counts by status", () => {
    assert.deepEqual(
      data.axes.map((a) => [a.name, a.kind, a.values]),
      [
        ["ctx", "knob", [2048, 8192]],
        ["parallel", "knob", [1, 4]],
        ["concurrency", "workload", [1, 4, 8]],
      ],
    );
    assert.deepEqual(data.fixed, [
      ["prompt_tokens", "32"],
      ["max_tokens", "16"],
    ]);
    assert.equal(data.best_cell, 4);
    assert.deepEqual(data.counts, { feasible: 5, infeasible: 3, failed: 1, skipped: 1, wont_fit: 0 });
    assert.equal(data.cells[8]?.reason, "server died during the run (oom)");
  });

  it("heatmap: ctx x parallel, each tile its best feasible cell over concurrency, OOM tiles marked", () => {
    const h = data.heatmap;
    assert.ok(h !== null);
    assert.deepEqual([h.x_axis, h.y_axis, h.folded], ["ctx", "parallel", ["concurrency"]]);
    const tile = (x: string, y: string) => h.tiles.find((t) => t.x === x && t.y === y);
    assert.equal(tile("2048", "4")?.value, 115);
    assert.equal(tile("2048", "4")?.text, "115 @4");
    assert.equal(tile("2048", "1")?.value, 50);
    assert.equal(tile("8192", "4")?.value, 50, "the feasible concurrency-1 cell, not the OOM one");
    assert.match(
      tile("8192", "4")?.lines.join("\n") ?? "",
      /concurrency=4: failed — server died during the run \(oom\)/,
    );
    assert.deepEqual([h.min, h.max], [47, 115]);
  });

  it("a tile with no feasible cell says how its cells ended", () => {
    const d = collectSweepReport(
      sweep([
        cell(0, { ctx: 2048, parallel: 1 }, 1, "feasible", 50, 70),
        cell(1, { ctx: 32768, parallel: 1 }, 1, "failed", null, null, "server failed to start", "oom"),
        cell(2, { ctx: 32768, parallel: 4 }, 1, "skipped", null, null, "heavier than cell #1"),
        cell(3, { ctx: 2048, parallel: 4 }, 1, "infeasible", 40, 900, "TTFT p95 900 ms > 500 ms"),
      ]),
    );
    const text = Object.fromEntries(d.heatmap?.tiles.map((t) => [`${t.x}/${t.y}`, [t.status, t.text]]) ?? []);
    assert.deepEqual(text, {
      "2048/1": ["feasible", "50.0"],
      "2048/4": ["infeasible", "infeasible"],
      "32768/1": ["failed", "OOM"],
      "32768/4": ["skipped", "skipped"],
    });
  });

  it("curves per ctx and parallel against concurrency, without failed cells' figures", () => {
    const c = data.curves;
    assert.ok(c !== null);
    assert.equal(c.x_axis, "concurrency");
    assert.deepEqual(
      c.series.map((s) => [s.label, s.points.map((p) => [p.x, p.tps])]),
      [
        [
          "ctx=2048 parallel=1",
          [
            [1, 50],
            [4, 51],
            [8, 51],
          ],
        ],
        [
          "ctx=2048 parallel=4",
          [
            [1, 50],
            [4, 115],
            [8, 116],
          ],
        ],
        ["ctx=8192 parallel=1", [[1, 47]]],
        ["ctx=8192 parallel=4", [[1, 50]]],
      ],
    );
  });

  it("the Pareto front: feasible cells no feasible cell beats on throughput and TTFT p95", () => {
    assert.deepEqual(data.pareto.front, [0, 4]);
    assert.deepEqual(
      paretoFront([
        { cell: 1, ttft_p95_ms: 100, tps: 10 },
        { cell: 2, ttft_p95_ms: 200, tps: 30 },
        { cell: 3, ttft_p95_ms: 150, tps: 5 },
        { cell: 4, ttft_p95_ms: 300, tps: 30 },
        { cell: 5, ttft_p95_ms: 100, tps: 12 },
      ]),
      [5, 2],
    );
    assert.ok(
      data.pareto.points.every((p) => p.cell !== 8),
      "the failed cell is not a point",
    );
  });

  it("hints: where throughput stops scaling, the memory boundary, the TTFT gate", () => {
    const text = data.hints.map((h) => h.text).join("\n");
    assert.match(
      text,
      /ctx=2048 parallel=1: throughput stops scaling at concurrency 1: 50.0 → 51.0 tok\/s \(x1.02\) for x4.0/,
    );
    assert.match(text, /ctx=2048 parallel=4: throughput stops scaling at concurrency 4: 115 → 116 tok\/s/);
    assert.doesNotMatch(text, /ctx=8192 parallel=4: throughput stops/, "a failed cell is no saturation");
    assert.match(
      text,
      /Out of memory in 1 cell, first at ctx=8192 parallel=4 concurrency=4; 1 heavier cell was skipped/,
    );
    assert.match(text, /ctx: no cell ran out of memory up to 2048, the first did at 8192/);
    assert.match(text, /Every infeasible cell \(3\) missed the TTFT p95 budget/);
    assert.match(
      text,
      /The gate costs 0\.9 % of throughput: the fastest cell measured, ctx=2048 parallel=4 concurrency=8 \(116 tok\/s\), did not pass \(TTFT p95 770 ms > 500 ms\); the best that did gives 115 tok\/s/,
    );
  });

  it("a lower-is-better objective picks the lowest TTFT", () => {
    const d = collectSweepReport(sweep(cells, "latency"));
    assert.equal(d.best_cell, 0);
    assert.equal(d.higher_is_better, false);
    assert.equal(d.heatmap?.tiles.find((t) => t.x === "2048" && t.y === "4")?.value, 75);
  });
});

function trial(
  index: number,
  status: TrialRecord["status"],
  value: number | null,
  knobs: Record<string, unknown>,
): TrialRecord {
  return {
    index,
    stage: "search",
    kind: index === 0 ? "baseline" : "candidate",
    configuration: knobs as TrialRecord["configuration"],
    replicates:
      value === null
        ? [
            {
              status: "oom",
              feasible: false,
              reason: "oom",
              output_tokens_per_s: null,
              ttft_p95_ms: null,
              itl_p95_ms: null,
              requests_per_s: null,
              goodput_rps: null,
              run_id: null,
            },
          ]
        : [
            {
              status: "ok",
              feasible: status === "feasible",
              reason: null,
              output_tokens_per_s: null,
              ttft_p95_ms: value,
              itl_p95_ms: 5,
              requests_per_s: 1,
              goodput_rps: 1,
              run_id: null,
            },
          ],
    status,
    failure: value === null ? "oom" : null,
    reason: status === "feasible" ? null : "<script>alert(1)</script>",
    value,
    ttft_p95_ms: value,
    spread: null,
    reference: null,
    elapsed_ms: 10,
  };
}

describe("a tune's report data", () => {
  const tune: StoredTune = {
    tune_id: "tune-1",
    tool_version: "0.1.0",
    started_at: "2026-01-01T00:00:00.000Z",
    ended_at: "2026-01-01T00:01:00.000Z",
    status: "completed",
    exit_reason: "found",
    spec: { settings: { objective: "latency" } },
    recipe: {
      recipe_hash: "sha256:abc",
      exit_detail: null,
      recommendation: {
        model: { path: "/m/</script>.gguf" },
        knobs: { parallel: 2 },
        command: "llama-server -np 2",
        env: {},
        bench_command: "tokbench bench --url x",
      },
      evidence: {
        objective_unit: "ms TTFT p95",
        best: { value: 80, trial: 2 },
        baseline: { value: 120 },
        gain: 0.5,
        drift: { warning: false },
      },
    },
    trials: [
      trial(0, "feasible", 120, { parallel: 1 }),
      trial(1, "failed", null, { parallel: 8 }),
      trial(2, "feasible", 80, { parallel: 2 }),
      trial(3, "infeasible", 60, { parallel: "<b>4</b>" }),
      trial(4, "feasible", 90, { parallel: 3 }),
    ],
  };
  const data = collectTuneReport(tune);

  it("best so far follows the objective's direction and counts feasible trials only", () => {
    assert.equal(data.higher_is_better, false);
    assert.deepEqual(
      data.trials.map((t) => t.best_so_far),
      [120, 120, 80, 80, 80],
    );
    assert.deepEqual(data.trials[0]?.replicates, [{ value: 120, status: "ok", feasible: true }]);
    assert.equal(data.trials[3]?.knobs, "parallel=<b>4</b>");
  });

  it("the recommendation and its recipe", () => {
    assert.deepEqual(
      [
        data.recommendation?.model,
        data.recommendation?.knobs,
        data.recommendation?.command,
        data.recommendation?.recipe_hash,
        data.recommendation?.trial,
      ],
      ["/m/</script>.gguf", "parallel=2", "llama-server -np 2", "sha256:abc", 2],
    );
  });

  it("renders escaped: no markup from a knob, a reason or a model path reaches the page raw", () => {
    const html = renderReportHtml({
      generated_at: "now",
      tool_version: "0.1.0",
      runs: [],
      comparison: null,
      sweeps: [
        collectSweepReport(
          sweep([
            cell(
              0,
              { ctx: "</script><script>x()</script>" },
              1,
              "infeasible",
              5,
              5,
              "<img src=x onerror=y()>",
            ),
            cell(1, { ctx: "</script><script>x()</script>" }, 2, "feasible", 9, 6),
          ]),
        ),
      ],
      tunes: [data],
    });
    for (const raw of [
      "<b>4</b>",
      "<script>alert(1)</script>",
      "/m/</script>.gguf",
      "<script>x()</script>",
      "<img src=x",
    ])
      assert.ok(!html.includes(raw), raw);
    assert.ok(html.includes("parallel=&lt;b&gt;4&lt;/b&gt;"));
    assert.ok(html.includes('data-chart="s0-tps"') && html.includes('data-chart="t0-progress"'));
  });
});
