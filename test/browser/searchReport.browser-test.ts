/**
 * `tokbench report SWEEP|TUNE` in headless Chromium, on a real sweep of the simulated llama-server
 * (`tokbench mock --simulate`, a test double: docs/simulated-server.md) launched through
 * `--server-cmd`, a real sweep of a hostile server on loopback, and a real tune replaying a
 * recorded grid. Markup rides in through a knob value (the server's alias, a real launch argument),
 * the hostile server's error messages (cell reasons) and a replayed trial's knob and reason.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CLI, runCli } from "../cli/runCli.js";
import { HOSTILE_ERROR, startHostileServer } from "./hostileServer.js";
import { ARTIFACTS, openReport } from "./openReport.js";

/** A knob value and a replayed reason made of markup; neither has a comma (a list separator). */
const HOSTILE_KNOB = "</script><script>window.__pwned='knob'</script>";
const HOSTILE_REASON = "<img src=x onerror=\"window.__pwned='reason'\"></script>";

describe("tokbench report of sweeps and tunes in headless Chromium", () => {
  let dir: string;
  let db: string;
  let sweepId: string;
  let hostileSweepId: string;
  let tuneId: string;
  let server: Awaited<ReturnType<typeof startHostileServer>>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-search-report-"));
    db = join(dir, "runs.sqlite");
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startHostileServer();
    // 600 MiB of simulated memory: ctx 32768 cannot load (OOM at start), ctx 2048 fits; one slot
    // queues 4 requests past the 400 ms TTFT budget (infeasible), four slots serve them at once.
    const sweep = await runCli([
      "sweep",
      "--server-cmd",
      `${process.execPath} ${CLI} mock --simulate --port {port} --alias {alias} --startup-ms 150 --ctx-size {ctx} --parallel {parallel} --memory-budget-mib 600 --prefill-tps 600 --decode-tps 60`,
      "--knob",
      `alias=${HOSTILE_KNOB},plain`,
      "--knob",
      "ctx=2048,32768",
      "--knob",
      "parallel=1,4",
      "--concurrency",
      "1,4",
      "--prompt-tokens",
      "32",
      "--max-tokens",
      "12",
      "--requests",
      "6",
      "--warmup",
      "0",
      "--model",
      "sim",
      "--max-ttft-p95-ms",
      "400",
      "--stop-grace",
      "3",
      "--json",
      "--no-progress",
      "--db",
      db,
    ]);
    assert.equal(sweep.code, 0, sweep.stderr);
    sweepId = JSON.parse(sweep.stdout).sweep_id;
    // Every third request fails with markup for a message: the cells' reasons carry it.
    const hostile = await runCli([
      "sweep",
      "--url",
      server.url,
      "--model",
      "m",
      "--concurrency",
      "1,2",
      "--requests",
      "6",
      "--warmup",
      "0",
      "--json",
      "--no-progress",
      "--db",
      db,
    ]);
    assert.equal(hostile.code, 0, hostile.stderr);
    hostileSweepId = JSON.parse(hostile.stdout).sweep_id;
    // A recorded grid: throughput grows with parallel and batch; parallel 8 runs out of memory.
    const lines: string[] = [];
    for (const parallel of [1, 2, 4, 8])
      for (const batch of [256, 1024]) {
        if (parallel === 8) {
          lines.push(JSON.stringify({ knobs: { parallel, batch, label: HOSTILE_KNOB }, status: "oom" }));
          continue;
        }
        for (const r of [0, 1, 2]) {
          const slow = parallel === 1 && batch === 256;
          lines.push(
            JSON.stringify({
              knobs: { parallel, batch, label: HOSTILE_KNOB },
              status: "ok",
              ...(slow ? { feasible: false, reason: HOSTILE_REASON } : {}),
              output_tokens_per_s: 10 * parallel + batch / 256 + r * 0.1,
              ttft_p95_ms: 100 * parallel,
              itl_p95_ms: 5,
              requests_per_s: parallel,
              goodput_rps: parallel,
            }),
          );
        }
      }
    const replay = join(dir, "grid.jsonl");
    await writeFile(replay, `${lines.join("\n")}\n`);
    const tune = await runCli([
      "tune",
      "--replay",
      replay,
      "--max-trials",
      "12",
      "--json",
      "--no-progress",
      "--db",
      db,
    ]);
    assert.equal(tune.code, 0, tune.stderr);
    tuneId = JSON.parse(tune.stdout).tune_id;
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The report, with the heatmap's hover lines and its x labels read from its chart. */
  const open = async (file: string, screenshot: string) => {
    const page = await openReport(file, screenshot, {
      hover: `(() => {
        const c = Chart.getChart(document.querySelector('canvas[data-chart="s0-heatmap"]'));
        return c ? c.data.datasets[0].data.map((d) => d.tile.lines.join(" | ")) : [];
      })()`,
      sweepMachine: `document.querySelector("section.sweep").innerText`,
      xLabels: `(() => {
        const c = Chart.getChart(document.querySelector('canvas[data-chart="s0-heatmap"]'));
        return c ? c.scales.x.getLabels() : [];
      })()`,
    });
    return {
      ...page,
      hover: page.values.hover as string[],
      xLabels: page.values.xLabels as string[],
      sweepText: page.values.sweepMachine as string,
    };
  };

  it("a sweep, a tune and a run in one report: every chart drawn, offline, no error, no injected script", async () => {
    const out = join(dir, "search.html");
    const started = performance.now();
    const r = await runCli([
      "report",
      sweepId.slice(0, 8),
      hostileSweepId,
      tuneId.slice(0, 10),
      "last",
      "--out",
      out,
      "--db",
      db,
    ]);
    const generateMs = performance.now() - started;
    assert.equal(r.code, 0, r.stderr);
    const page = await open(out, "report-sweep-tune.png");
    assert.deepEqual(page.problems, []);
    assert.deepEqual(page.requests, [], "the page asked for nothing");
    const ids = page.charts.map((c) => c.id);
    for (const id of ["s0-heatmap", "s0-tps", "s0-ttft", "s0-pareto", "s1-tps", "s1-ttft", "t0-progress"])
      assert.ok(ids.includes(id), `${id} in ${ids.join(", ")}`);
    assert.ok(
      ids.some((id) => id.startsWith("r0-")),
      "the run's charts too",
    );
    for (const c of page.charts) {
      assert.equal(c.drawn, "1", `${c.id} drawn`);
      assert.ok(c.painted > 500, `${c.id}: ${c.painted} painted pixels`);
    }
    assert.equal(page.pwned, null, "no injected script ran");

    // The heatmap: ctx x parallel (numeric knobs before the named alias), alias and concurrency
    // folded into each tile; OOM and infeasible cells carry their reasons on hover.
    assert.equal(page.hover.length, 4, page.hover.join("\n"));
    assert.ok(
      page.hover.some((h) => /failed .*oom/i.test(h)),
      `an out-of-memory tile: ${page.hover.join("\n")}`,
    );
    assert.ok(
      page.hover.some((h) => /infeasible .*TTFT p95 .* > 400 ms/.test(h)),
      `a TTFT-gated cell: ${page.hover.join("\n")}`,
    );
    assert.deepEqual(page.xLabels, ["2048", "32768"]);
    assert.ok(
      page.hover.some((h) => h.includes(`alias=${HOSTILE_KNOB}`)),
      `the folded knob's value, in the hover text: ${page.hover.join("\n")}`,
    );
    // Text: markup shown as text, the recipe, the hints.
    assert.ok(page.text.includes(HOSTILE_KNOB), "the hostile knob value is shown as text");
    assert.ok(page.text.includes(HOSTILE_REASON), "the replayed reason is shown as text");
    assert.ok(
      page.text.includes("<script>window.__pwned='error'</script>"),
      "the server's error is shown as text",
    );
    assert.match(page.text, /recipe_hash\s+sha256:[0-9a-f]{64}/);
    assert.match(page.sweepText, /Machine\s+host\s+\S+\s+CPU/, "the sweep's machine, from its first run");
    assert.match(page.text, /Out of memory in \d+ cells?, first at/);
    assert.match(page.text, /Best throughput so far against trials|Best so far/);
    const html = readFileSync(out, "utf8");
    for (const raw of [HOSTILE_KNOB, HOSTILE_REASON, HOSTILE_ERROR, "<script>window.__pwned"])
      assert.ok(!html.includes(raw), `no raw ${raw} in the file`);
    process.stderr.write(
      `report-sweep-tune.png: ${page.charts.length} charts, ${(statSync(out).size / 1024).toFixed(0)} KiB generated in ${generateMs.toFixed(0)} ms (CLI), rendered in ${page.renderMs.toFixed(0)} ms; screenshot in ${ARTIFACTS}\n`,
    );
  });

  it("--png writes a sweep's and a tune's charts", async () => {
    const pngs = join(dir, "png");
    const r = await runCli([
      "report",
      sweepId,
      tuneId,
      "--out",
      join(dir, "png.html"),
      "--png",
      pngs,
      "--db",
      db,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(pngs).sort(), [
      "s0-heatmap.png",
      "s0-pareto.png",
      "s0-tps.png",
      "s0-ttft.png",
      "t0-progress.png",
    ]);
    for (const f of readdirSync(pngs))
      assert.equal(readFileSync(join(pngs, f)).subarray(1, 4).toString(), "PNG", f);
  });

  it("an unknown id is refused with one line naming runs, sweeps and tunes", async () => {
    const r = await runCli(["report", "zzzzzzzz", "--out", join(dir, "none.html"), "--db", db]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no run, sweep or tune "zzzzzzzz"/);
  });
});
