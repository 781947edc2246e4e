import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeAxis } from "../../src/search/Axis.js";
import { configurationKey } from "../../src/tune/Measurement.js";
import { replaySource } from "../../src/tune/replaySource.js";
import { runTune, type TuneSettings } from "../../src/tune/runTune.js";
import { type Line, ok, records } from "./replayLines.js";

function settings(overrides: Partial<TuneSettings> = {}): TuneSettings {
  return {
    objective: "throughput",
    budgets: { max_ttft_p95_ms: null, max_itl_p95_ms: null },
    replicates: 3,
    limits: { max_trials: 50, time_budget_ms: null },
    tie_band: null,
    strategy: "coordinate",
    anchor_every: 0,
    seed: 1,
    ...overrides,
  };
}

/** Records every configuration the tuner asks to measure. */
function spy(source: ReturnType<typeof replaySource>) {
  const asked: string[] = [];
  return {
    asked,
    measure: (async (c, r, s) => {
      asked.push(configurationKey(c));
      return source.measure(c, r, s);
    }) as typeof source.measure,
  };
}

describe("runTune on replayed measurements", () => {
  const parallel = makeAxis("parallel", [1, 2, 4]);

  it("stage 1 picks the first feasible candidate in the user's order and never measures the ones after it", async () => {
    const lines: Line[] = [];
    for (const model of ["big", "mid", "small"]) {
      for (const p of [1, 2, 4]) {
        for (let r = 0; r < 3; r++) {
          if (model === "big") lines.push({ knobs: { model, parallel: p }, status: "oom" });
          else lines.push(ok({ model, parallel: p }, (model === "small" ? 50 : 10) * p));
        }
      }
    }
    const source = replaySource(records(lines));
    const s = spy(source);
    const outcome = await runTune({
      axes: [parallel],
      candidates: ["big", "mid", "small"],
      baseline: { parallel: 1 },
      settings: settings(),
      measure: s.measure,
    });
    assert.equal(outcome.chosen_model, "mid");
    assert.deepEqual(outcome.not_measured, ["small"]);
    assert.ok(!s.asked.some((k) => k.includes('"small"')), "a candidate after the chosen one was measured");
    assert.equal(outcome.rejected[0]?.model, "big");
    assert.equal(outcome.best?.configuration.model, "mid");
    assert.equal(outcome.best?.configuration.parallel, 4);
    assert.equal(outcome.exit_reason, "found");

    // When two fit, the first listed wins even though the later one is faster.
    const again = await runTune({
      axes: [parallel],
      candidates: ["mid", "small"],
      baseline: { parallel: 1 },
      settings: settings(),
      measure: replaySource(records(lines)).measure,
    });
    assert.equal(again.chosen_model, "mid");
  });

  it("a candidate whose probe fails one replicate is infeasible: the next one is chosen", async () => {
    // "big" is the fastest by its median, but its second replicate failed the gate.
    const lines: Line[] = [
      ok({ model: "big", parallel: 1 }, 90),
      ok({ model: "big", parallel: 1 }, 90, 100, false),
      ok({ model: "big", parallel: 1 }, 90),
      ...[0, 1, 2].map(() => ok({ model: "small", parallel: 1 }, 10)),
    ];
    const s = spy(replaySource(records(lines)));
    const outcome = await runTune({
      axes: [makeAxis("parallel", [1])],
      candidates: ["big", "small"],
      baseline: { parallel: 1 },
      settings: settings(),
      measure: s.measure,
    });
    assert.equal(outcome.rejected[0]?.model, "big");
    assert.equal(outcome.rejected[0]?.verdict, "infeasible");
    assert.match(outcome.rejected[0]?.reason ?? "", /replicate 2/);
    assert.equal(outcome.chosen_model, "small");
    assert.equal(outcome.best?.configuration.model, "small");
    // The probe of "big" stopped at the failed replicate.
    assert.equal(outcome.trials[0]?.replicates.length, 2);
  });

  it("a memory pre-check that fails rejects a candidate without measuring it", async () => {
    const lines = [ok({ model: "a", parallel: 1 }, 5), ok({ model: "b", parallel: 1 }, 9)];
    const source = replaySource(records(lines));
    const s = spy(source);
    const outcome = await runTune({
      axes: [makeAxis("parallel", [1])],
      candidates: ["a", "b"],
      baseline: { parallel: 1 },
      settings: settings({ replicates: 1 }),
      measure: s.measure,
      checkFit: (c) => ({ fits: c.model !== "a", reason: c.model === "a" ? "needs 9 GiB" : null }) as never,
    });
    assert.equal(outcome.chosen_model, "b");
    assert.deepEqual(outcome.rejected, [{ model: "a", verdict: "wont_fit", reason: "needs 9 GiB" }]);
    assert.ok(!s.asked.some((k) => k.includes('"a"')));
  });

  it("a configuration that fails one replicate is infeasible, whatever its median", async () => {
    const lines = [
      ...[0, 1, 2].map(() => ok({ parallel: 1 }, 10)),
      ...[0, 1, 2].map(() => ok({ parallel: 2 }, 20)),
      ok({ parallel: 4 }, 90),
      ok({ parallel: 4 }, 90, 100, false),
      ok({ parallel: 4 }, 90),
    ];
    const outcome = await runTune({
      axes: [parallel],
      candidates: [],
      baseline: { parallel: 1 },
      settings: settings(),
      measure: replaySource(records(lines)).measure,
    });
    const four = outcome.trials.find((t) => t.configuration.parallel === 4);
    assert.equal(four?.status, "infeasible");
    assert.match(four?.reason ?? "", /replicate 2/);
    // Feasibility is strict, so the third replicate is not measured.
    assert.equal(four?.replicates.length, 2);
    assert.equal(outcome.best?.configuration.parallel, 2);
  });

  it("inside the tie band the lower TTFT p95 wins; outside it the objective does", async () => {
    const lines = [
      ...[0, 1, 2].map(() => ok({ parallel: 1 }, 50, 100)),
      ...[0, 1, 2].map(() => ok({ parallel: 2 }, 100, 300)),
      ...[0, 1, 2].map(() => ok({ parallel: 4 }, 103, 900)),
    ];
    const run = (band: number) =>
      runTune({
        axes: [parallel],
        candidates: [],
        baseline: { parallel: 1 },
        settings: settings({ tie_band: band }),
        measure: replaySource(records(lines)).measure,
      });
    assert.equal((await run(0.05)).best?.configuration.parallel, 2);
    assert.equal((await run(0)).best?.configuration.parallel, 4);
  });

  it("after the coordinate walk converges, the recommendation's own neighbours are measured (a two-axis move)", async () => {
    // From the baseline (1,1) no single-axis step improves, so the walk stops there; (2,1) is a
    // tie with a lower TTFT, so it is the recommendation, and its neighbour (2,2) is the optimum.
    const cells: [number, number, number, number][] = [
      [1, 1, 100, 200],
      [2, 1, 98, 100],
      [1, 2, 50, 100],
      [2, 2, 120, 150],
    ];
    const lines = cells.flatMap(([x, y, v, ttft]) => [0, 1, 2].map(() => ok({ x, y }, v, ttft)));
    const source = replaySource(records(lines));
    const s = spy(source);
    const outcome = await runTune({
      axes: [makeAxis("x", [1, 2]), makeAxis("y", [1, 2])],
      candidates: [],
      baseline: { x: 1, y: 1 },
      settings: settings({ tie_band: 0.05 }),
      measure: s.measure,
    });
    assert.deepEqual(outcome.best?.configuration, { x: 2, y: 2 });
    assert.equal(outcome.exit_reason, "found");
    // Each configuration measured once.
    assert.equal(new Set(s.asked).size, s.asked.length);
    assert.equal(s.asked.length, 4);
  });

  it("with budget left after converging, the other measured configurations are expanded best first", async () => {
    // The walk stops at x=1 (its neighbour is worse): a local optimum. The budget left takes the
    // next best measured configuration's neighbours, and so on, to x=5.
    const values: Record<number, number> = { 1: 100, 2: 90, 3: 80, 4: 70, 5: 200 };
    const lines = Object.entries(values).flatMap(([x, v]) => [0, 1, 2].map(() => ok({ x: Number(x) }, v)));
    const run = (maxTrials: number) =>
      runTune({
        axes: [makeAxis("x", [1, 2, 3, 4, 5])],
        candidates: [],
        baseline: { x: 1 },
        settings: settings({ tie_band: 0, limits: { max_trials: maxTrials, time_budget_ms: null } }),
        measure: replaySource(records(lines)).measure,
      });
    const outcome = await run(10);
    assert.equal(outcome.best?.configuration.x, 5);
    assert.equal(outcome.trials.length, 5);
    assert.equal(outcome.exit_reason, "found");
    // With the budget of the walk alone, the local optimum stands.
    const short = await run(2);
    assert.equal(short.best?.configuration.x, 1);
  });

  it("the noise band comes from the replicates when no tie band is given", async () => {
    const lines = [
      ...[40, 50, 60].map((v) => ok({ parallel: 1 }, v, 100)),
      ...[90, 100, 110].map((v) => ok({ parallel: 2 }, v, 300)),
      ...[95, 104, 113].map((v) => ok({ parallel: 4 }, v, 900)),
    ];
    const outcome = await runTune({
      axes: [parallel],
      candidates: [],
      baseline: { parallel: 1 },
      settings: settings(),
      measure: replaySource(records(lines)).measure,
    });
    assert.ok(outcome.tie_band > 0.1, `band ${outcome.tie_band}`);
    assert.equal(outcome.best?.configuration.parallel, 2);
  });

  it("drift anchors re-measure the baseline, report drift above 10 % and compare against the latest baseline", async () => {
    const ubatch = makeAxis("ubatch", [64, 128, 256, 512]);
    const lines: Line[] = [];
    // The baseline's first three replicates say 100, the next three (the anchor) 80: the machine slowed down.
    for (const v of [100, 100, 100, 80, 80, 80]) lines.push(ok({ parallel: 1, ubatch: 64 }, v));
    for (const p of [1, 2, 4])
      for (const u of [64, 128, 256, 512])
        if (!(p === 1 && u === 64))
          for (let r = 0; r < 3; r++) lines.push(ok({ parallel: p, ubatch: u }, 100 + p + u / 64));
    const outcome = await runTune({
      axes: [parallel, ubatch],
      candidates: [],
      baseline: { parallel: 1, ubatch: 64 },
      settings: settings({ anchor_every: 2 }),
      measure: replaySource(records(lines)).measure,
    });
    const anchors = outcome.trials.filter((t) => t.kind === "anchor");
    assert.ok(anchors.length >= 1);
    assert.ok(Math.abs(outcome.max_drift + 0.2) < 1e-9, `drift ${outcome.max_drift}`);
    // Trials after the anchor are compared against 80, not 100.
    const after = outcome.trials.find((t) => t.index > (anchors[0]?.index ?? 0) && t.kind === "candidate");
    assert.equal(after?.reference, 80);
    // The gain is reported against the latest baseline too: the anchor's 80.
    assert.equal(outcome.drift_warning, true);
    assert.equal(outcome.latest_baseline?.kind, "anchor");
    assert.equal(outcome.latest_baseline?.value, 80);
    const best = outcome.best?.value ?? Number.NaN;
    assert.ok(best > 100, `best ${best}`);
    assert.ok(
      Math.abs((outcome.gain_vs_latest_baseline ?? Number.NaN) - (best / 80 - 1)) < 1e-9,
      `gain vs latest ${outcome.gain_vs_latest_baseline}`,
    );
  });

  it("a gain measured before a drift is reported against the first and the latest baseline", async () => {
    // The baseline says 100, then its anchor 150 (the machine sped up by half); the only better
    // configuration, parallel 2, measured 120 before the anchor: +20 % over the first baseline,
    // -20 % against the latest one.
    const lines: Line[] = [];
    for (const v of [100, 100, 100, 150, 150, 150]) lines.push(ok({ parallel: 1 }, v));
    for (let r = 0; r < 3; r++) lines.push(ok({ parallel: 2 }, 120));
    for (let r = 0; r < 3; r++) lines.push(ok({ parallel: 4 }, 50));
    const outcome = await runTune({
      axes: [parallel],
      candidates: [],
      baseline: { parallel: 1 },
      settings: settings({ anchor_every: 1, tie_band: 0 }),
      measure: replaySource(records(lines)).measure,
    });
    assert.equal(outcome.best?.configuration.parallel, 2);
    assert.ok(Math.abs((outcome.gain ?? 0) - 0.2) < 1e-9, `gain ${outcome.gain}`);
    assert.equal(outcome.latest_baseline?.value, 150);
    assert.ok(
      Math.abs((outcome.gain_vs_latest_baseline ?? 0) + 0.2) < 1e-9,
      `gain vs latest ${outcome.gain_vs_latest_baseline}`,
    );
    assert.ok(Math.abs(outcome.max_drift - 0.5) < 1e-9, `drift ${outcome.max_drift}`);
    assert.equal(outcome.drift_warning, true);
    // Without an anchor there is no latest baseline to compare with.
    const still = await runTune({
      axes: [parallel],
      candidates: [],
      baseline: { parallel: 1 },
      settings: settings({ anchor_every: 0, tie_band: 0 }),
      measure: replaySource(records(lines)).measure,
    });
    assert.equal(still.latest_baseline, null);
    assert.equal(still.gain_vs_latest_baseline, null);
    assert.equal(still.drift_warning, false);
  });

  it("a configuration absent from the replay is not runnable, and replicates cycle when more are asked for", async () => {
    const source = replaySource(records([ok({ parallel: 1 }, 1), ok({ parallel: 1 }, 2)]));
    const absent = await source.measure({ parallel: 9 }, 3, undefined);
    assert.equal(absent.failure?.status, "error");
    const served = await source.measure({ parallel: 1 }, 3, undefined);
    assert.deepEqual(
      served.replicates.map((m) => m.output_tokens_per_s),
      [1, 2, 1],
    );
  });

  it("an out-of-memory configuration rules out heavier ones without measuring them", async () => {
    const ctx = makeAxis("ctx", [1024, 2048, 4096]);
    const lines: Line[] = [];
    for (const c of [1024, 2048, 4096])
      for (const p of [1, 2, 4]) {
        if (c * p >= 4096) lines.push({ knobs: { ctx: c, parallel: p }, status: "oom" });
        else for (let r = 0; r < 3; r++) lines.push(ok({ ctx: c, parallel: p }, c / 100 + p));
      }
    const source = replaySource(records(lines));
    const s = spy(source);
    const outcome = await runTune({
      axes: [ctx, parallel],
      candidates: [],
      baseline: { ctx: 1024, parallel: 1 },
      settings: settings({ strategy: "random", limits: { max_trials: 9, time_budget_ms: null } }),
      measure: s.measure,
    });
    const oom = outcome.trials.filter((t) => t.failure === "oom").map((t) => t.configuration);
    assert.ok(oom.length > 0, "no configuration ran out of memory");
    // 3 of the 9 configurations need no measurement once a lighter one ran out of memory.
    assert.ok(s.asked.length < 9, `measured ${s.asked.length} configurations`);
    for (const o of oom) {
      for (const k of s.asked) {
        const c = Object.fromEntries(JSON.parse(k)) as { ctx: number; parallel: number };
        const heavier =
          c.ctx >= (o.ctx as number) &&
          c.parallel >= (o.parallel as number) &&
          configurationKey(c) !== configurationKey(o);
        assert.ok(
          !heavier || s.asked.indexOf(k) < s.asked.indexOf(configurationKey(o)),
          `measured ${k} after ${JSON.stringify(o)} ran out of memory`,
        );
      }
    }
    assert.notEqual(outcome.best, null);
    assert.notEqual(outcome.best?.status, "failed");
  });

  it("the latency objective prefers the lowest TTFT p95; a server that rejects its arguments is a config_error", async () => {
    const lines = [
      ...[0, 1, 2].map(() => ok({ parallel: 1 }, 10, 90)),
      ...[0, 1, 2].map(() => ok({ parallel: 2 }, 20, 60)),
      ...[0, 1, 2].map(() => ok({ parallel: 4 }, 40, 150)),
    ];
    const latency = await runTune({
      axes: [parallel],
      candidates: [],
      baseline: { parallel: 1 },
      settings: settings({ objective: "latency", tie_band: 0 }),
      measure: replaySource(records(lines)).measure,
    });
    assert.equal(latency.best?.configuration.parallel, 2);
    assert.ok(Math.abs((latency.gain ?? 0) - 0.5) < 1e-9, `gain ${latency.gain}`);
    const refused = await runTune({
      axes: [parallel],
      candidates: [],
      baseline: { parallel: 1 },
      settings: settings(),
      measure: async () => ({
        replicates: [],
        failure: { status: "error", reason: "bad_args: unknown flag -np" },
      }),
    });
    assert.equal(refused.exit_reason, "config_error");
    assert.equal(refused.best, null);
  });

  it("the goodput objective maximises requests/s within the budgets; a budget makes a configuration infeasible", async () => {
    const cell = (parallel: number, tps: number, goodput: number, ttft: number, itl: number): Line[] =>
      [0, 1, 2].map(() => ({
        ...ok({ parallel }, tps, ttft),
        goodput_rps: goodput,
        itl_p95_ms: itl,
      }));
    // parallel 4 has the most tokens per second but breaks the ITL budget; 2 has the best goodput.
    const lines = [...cell(1, 10, 0.5, 100, 20), ...cell(2, 20, 0.9, 100, 40), ...cell(4, 40, 0.7, 100, 90)];
    const run = (objective: TuneSettings["objective"], maxItl: number | null) =>
      runTune({
        axes: [parallel],
        candidates: [],
        baseline: { parallel: 1 },
        settings: settings({
          objective,
          tie_band: 0,
          budgets: { max_ttft_p95_ms: null, max_itl_p95_ms: maxItl },
        }),
        measure: replaySource(records(lines)).measure,
      });
    const goodput = await run("goodput", null);
    assert.equal(goodput.best?.configuration.parallel, 2);
    assert.ok(Math.abs((goodput.gain ?? 0) - 0.8) < 1e-9, `gain ${goodput.gain}`);
    assert.equal((await run("throughput", null)).best?.configuration.parallel, 4);
    const budgeted = await run("throughput", 50);
    assert.equal(budgeted.best?.configuration.parallel, 2);
    const four = budgeted.trials.find((t) => t.configuration.parallel === 4);
    assert.equal(four?.status, "infeasible");
    assert.match(four?.reason ?? "", /ITL p95 90\.00 ms > 50 ms/);
  });

  it("stops at the time budget (the trials' wall time), and when interrupted", async () => {
    const lines: Line[] = [];
    for (const p of [1, 2, 4]) for (let r = 0; r < 3; r++) lines.push(ok({ parallel: p }, p));
    const source = replaySource(records(lines));
    let now = 0;
    // Each measurement takes 10 s of the fake clock.
    const slow: typeof source.measure = async (c, r, s) => {
      now += 10_000;
      return source.measure(c, r, s);
    };
    const timed = await runTune({
      axes: [parallel],
      candidates: [],
      baseline: { parallel: 1 },
      settings: settings({ limits: { max_trials: 50, time_budget_ms: 15_000 } }),
      measure: slow,
      clock: () => now,
    });
    assert.equal(timed.exit_reason, "budget_exhausted");
    assert.equal(timed.trials.length, 2);
    const stop = new AbortController();
    const interrupted = await runTune({
      axes: [parallel],
      candidates: [],
      baseline: { parallel: 1 },
      settings: settings(),
      measure: async (c, r, s) => {
        stop.abort();
        return source.measure(c, r, s);
      },
      signal: stop.signal,
    });
    assert.equal(interrupted.exit_reason, "interrupted");
    assert.equal(interrupted.trials.length, 0);
  });

  it("stops at the trial budget with budget_exhausted and the best so far", async () => {
    const lines: Line[] = [];
    for (const p of [1, 2, 4]) for (let r = 0; r < 3; r++) lines.push(ok({ parallel: p }, p));
    const outcome = await runTune({
      axes: [parallel],
      candidates: [],
      baseline: { parallel: 1 },
      settings: settings({ limits: { max_trials: 1, time_budget_ms: null } }),
      measure: replaySource(records(lines)).measure,
    });
    assert.equal(outcome.exit_reason, "budget_exhausted");
    assert.equal(outcome.trials.length, 1);
    assert.equal(outcome.best?.configuration.parallel, 1);
  });
});
