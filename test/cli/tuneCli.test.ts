import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { killOrphanedServers, LIVE, sim } from "./fixtures/simulatedTune.js";
import { CLI, runCli, startCli, waitFor } from "./runCli.js";

function line(knobs: Record<string, unknown>, tps: number, ttft: number): string {
  return JSON.stringify({
    knobs,
    status: "ok",
    output_tokens_per_s: tps,
    ttft_p95_ms: ttft,
    itl_p95_ms: 5,
    requests_per_s: tps / 10,
    goodput_rps: tps / 10,
  });
}

/** A small recorded grid: throughput grows with parallel and batch, parallel 8 runs out of memory. */
function grid(): string {
  const lines: string[] = [];
  for (const parallel of [1, 2, 4, 8])
    for (const batch of [256, 512, 1024, 2048]) {
      if (parallel === 8) {
        lines.push(JSON.stringify({ knobs: { parallel, batch }, status: "oom" }));
        continue;
      }
      for (const r of [0, 1, 2])
        lines.push(line({ parallel, batch }, 10 * parallel + batch / 256 + r * 0.1, 100 * parallel));
    }
  return `${lines.join("\n")}\n`;
}

function tuneTrials(db: string): { idx: number; kind: string; replicates_json: string }[] {
  if (!existsSync(db)) return [];
  let conn: Database.Database | null = null;
  try {
    conn = new Database(db, { readonly: true, fileMustExist: true });
    return conn.prepare("SELECT idx, kind, replicates_json FROM tune_trials ORDER BY idx").all() as never;
  } catch {
    return [];
  } finally {
    conn?.close();
  }
}

/** `tokbench tune --replay SOURCE EXTRA... --db DB --no-progress`: the tuner on recorded cells. */
function replay(source: string, db: string, ...extra: string[]) {
  return runCli(["tune", "--replay", source, ...extra, "--db", db, "--no-progress"]);
}

/** {@link replay} with `--json`, which must succeed: its parsed output. */
async function replayJson(source: string, db: string, ...extra: string[]) {
  const run = await replay(source, db, ...extra, "--json");
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

describe("tokbench tune", () => {
  let dir: string;
  let cells: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-tune-cli-"));
    cells = join(dir, "cells.jsonl");
    await writeFile(cells, grid());
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("--replay --json prints the contract's shape; the same inputs give the same recipe hash, another input another", async () => {
    const db = join(dir, "replay.sqlite");
    const args = ["--objective", "throughput", "--max-trials", "8"];
    const out = await replayJson(cells, db, ...args);
    for (const key of [
      "tune_id",
      "exit_reason",
      "recommendation",
      "baseline",
      "trials",
      "trials_used",
      "recipe_hash",
    ])
      assert.ok(key in out, `${key} missing`);
    for (const key of ["model", "knobs", "command", "value"])
      assert.ok(key in out.recommendation, `recommendation.${key}`);
    for (const key of ["knobs", "status", "value", "replicates"])
      assert.ok(key in out.trials[0], `trials[].${key}`);
    assert.equal(out.exit_reason, "found");
    assert.deepEqual(out.recommendation.knobs, { parallel: 4, batch: 2048 });
    assert.ok(
      out.trials.every((t: { knobs: { parallel: number } }) => t.knobs.parallel !== 8 || t),
      "ran",
    );
    // The recipe is stored with the tune and its trials.
    const conn = new Database(db, { readonly: true });
    assert.equal(
      (conn.prepare("SELECT count(*) AS n FROM tune_trials").get() as { n: number }).n,
      out.trials_used,
    );
    assert.equal(
      JSON.parse((conn.prepare("SELECT recipe_json FROM tunes").get() as { recipe_json: string }).recipe_json)
        .recipe_hash,
      out.recipe_hash,
    );
    conn.close();
    // Listed and shown like runs: `runs --tunes`, `show TUNE` (a prefix of 8) and `show TUNE --json`.
    const listed = await runCli(["runs", "--tunes", "--json", "--db", db]);
    assert.equal(listed.code, 0, listed.stderr);
    const [entry] = JSON.parse(listed.stdout).tunes;
    assert.equal(entry.tune_id, out.tune_id);
    assert.equal(entry.trials, out.trials_used);
    assert.equal(entry.exit_reason, "found");
    assert.match((await runCli(["runs", "--tunes", "--db", db])).stdout, new RegExp(out.tune_id.slice(0, 8)));
    const shown = await runCli(["show", out.tune_id.slice(0, 8), "--db", db]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(
      shown.stdout,
      new RegExp(`tune ${out.tune_id} \\(completed\\).*${out.trials_used} trials, stopped because found`),
    );
    const shownJson = JSON.parse((await runCli(["show", out.tune_id, "--json", "--db", db])).stdout);
    assert.equal(shownJson.trials.length, out.trials_used);
    assert.equal(shownJson.recipe.recipe_hash, out.recipe_hash);
    const missing = await runCli(["show", "zzzzzzzz", "--db", db]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no run zzzzzzzz/);

    const b = await replayJson(cells, db, ...args);
    assert.notEqual(b.tune_id, out.tune_id);
    assert.equal(b.recipe_hash, out.recipe_hash);
    const c = await replayJson(cells, db, ...args, "--max-ttft-p95-ms", "500");
    assert.notEqual(c.recipe_hash, out.recipe_hash);
    const d = await replayJson(cells, db, ...args, "--replicates", "2");
    assert.notEqual(d.recipe_hash, out.recipe_hash);
    // The model-guided search from the CLI: within the trials, recorded in the recipe's inputs.
    const model = await replayJson(cells, db, ...args, "--strategy", "model");
    assert.equal(model.exit_reason, "found");
    assert.ok(model.trials_used <= 8, `${model.trials_used} trials`);
    assert.equal(model.recipe.inputs.search.strategy, "model");
    assert.notEqual(model.recipe_hash, out.recipe_hash);
  });

  it("candidates default to the model files largest first; --candidates is the order that decides", async () => {
    // Two model files; the smaller one is faster and first by name and in the file. Neither is a
    // GGUF, so no memory pre-check applies.
    const big = join(dir, "b-big.gguf");
    const small = join(dir, "a-small.gguf");
    await writeFile(big, Buffer.alloc(3000));
    await writeFile(small, Buffer.alloc(1000));
    const lines: string[] = [];
    for (const [model, tps] of [
      [small, 90],
      [big, 30],
    ] as const)
      for (const parallel of [1, 2])
        for (const r of [0, 1, 2]) lines.push(line({ model, parallel }, tps * parallel + r * 0.1, 100));
    const file = join(dir, "order.jsonl");
    await writeFile(file, `${lines.join("\n")}\n`);
    const tune = (extra: string[]) => replayJson(file, join(dir, "order.sqlite"), ...extra);
    const byBytes = await tune([]);
    assert.deepEqual(byBytes.recipe.inputs.candidates, [big, small]);
    assert.equal(byBytes.recommendation.model, big);
    assert.deepEqual(byBytes.recipe.evidence.not_measured_candidates, [small]);
    assert.ok(byBytes.trials.every((t: { knobs: { model: string } }) => t.knobs.model === big));
    const given = await tune(["--candidates", `${small},${big}`]);
    assert.deepEqual(given.recipe.inputs.candidates, [small, big]);
    assert.equal(given.recommendation.model, small);
    assert.deepEqual(given.recipe.evidence.not_measured_candidates, [big]);
  });

  it("reports drift above 10 % when the re-measured baseline moved", async () => {
    const drifting = join(dir, "drift.jsonl");
    const lines = [80, 80, 80, 100, 100, 100].map((v) => line({ parallel: 1, batch: 256 }, v, 100));
    for (const parallel of [1, 2, 4])
      for (const batch of [256, 512, 1024])
        if (!(parallel === 1 && batch === 256))
          for (const r of [0, 1, 2])
            lines.push(line({ parallel, batch }, 80 + parallel + batch / 512 + r * 0.01, 100));
    await writeFile(drifting, `${lines.join("\n")}\n`);
    const run = await replay(
      drifting,
      join(dir, "drift.sqlite"),
      "--baseline",
      "parallel=1,batch=256",
      "--anchor-every",
      "2",
      "--replicates",
      "3",
      "--json",
    );
    const out = JSON.parse(run.stdout);
    assert.ok(out.drift.anchors.length >= 1);
    assert.ok(Math.abs(out.drift.max - 0.25) < 1e-9, `drift ${out.drift.max}`);
    assert.equal(out.drift.warning, true);
    assert.match(run.stderr, /drift 25\.0 % of the baseline/);
    // The gain against the latest baseline (the anchor's 100) beside the first one's (80): added
    // fields, the old ones unchanged.
    assert.equal(out.latest_baseline.kind, "anchor");
    assert.equal(out.latest_baseline.value, 100);
    const best = out.recommendation.value;
    assert.ok(
      Math.abs(out.gain_vs_latest_baseline - (best / 100 - 1)) < 1e-9,
      `${out.gain_vs_latest_baseline}`,
    );
    assert.equal(typeof out.gain, "number");
    assert.equal(out.recipe.evidence.gain_vs_latest_baseline, out.gain_vs_latest_baseline);
    assert.equal(out.recipe.evidence.latest_baseline.value, 100);
    assert.equal(out.recipe.evidence.gain, out.gain);
    assert.match(
      run.stderr,
      /the recommendation's gain is [-+]\d+\.\d % over the latest baseline \([-+]\d+\.\d % over the first\)/,
    );
  });

  it("--out writes the recipe and --apply writes the script, keeping the earlier file as a backup", async () => {
    const script = join(dir, "serve.sh");
    await writeFile(script, "#!/bin/sh\necho mine\n");
    const recipe = join(dir, "recipe.json");
    const run = await replay(
      cells,
      join(dir, "apply.sqlite"),
      "--out",
      recipe,
      "--apply",
      script,
      "--server-cmd",
      "my-server --port {port} -np {parallel} -b {batch}",
    );
    assert.equal(run.code, 0, run.stderr);
    const written = JSON.parse(await readFile(recipe, "utf8"));
    assert.match(written.recipe_hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(written.recommendation.command, "my-server --port 8080 -np 4 -b 2048");
    assert.equal(await readFile(`${script}.bak`, "utf8"), "#!/bin/sh\necho mine\n");
    assert.match(await readFile(script, "utf8"), /^exec my-server --port 8080 -np 4 -b 2048$/m);
    assert.match(run.stdout, /recommendation: parallel=4 batch=2048/);
  });

  it("the embedded engine's recommendation: --apply writes llama-server's port, the verify command no 'null' model", async () => {
    const env = join(dir, "embedded.env");
    const out = await replayJson(cells, join(dir, "embedded.sqlite"), "--server", "embedded", "--apply", env);
    const written = await readFile(env, "utf8");
    // Port 0 would make llama-server listen on a random port.
    assert.match(written, /^LLAMA_ARG_PORT=8080$/m);
    assert.match(written, /^LLAMA_ARG_N_PARALLEL=4$/m);
    assert.match(out.recommendation.bench_command, /^tokbench bench --model '<model\.gguf>' --parallel 4 /);
  });

  it("replays a real sweep: its --cells-out file and its id in the database give the same recommendation", async () => {
    const mini = fileURLToPath(new URL("../sweep/fixtures/miniServer.js", import.meta.url));
    const db = join(dir, "sweep.sqlite");
    const cellsOut = join(dir, "sweep-cells.jsonl");
    const sweep = await runCli([
      "sweep",
      "--server-cmd",
      `${process.execPath} ${mini} --port {port} --parallel {parallel} --ttft-ms 5 --itl-ms 20 --startup-ms 20`,
      "--knob",
      "parallel=1,2,4",
      "--concurrency",
      "4",
      "--prompt-tokens",
      "8",
      "--max-tokens",
      "4",
      "--requests",
      "4",
      "--replicates",
      "2",
      "--model",
      "m",
      "--cells-out",
      cellsOut,
      "--json",
      "--db",
      db,
      "--no-progress",
    ]);
    assert.equal(sweep.code, 0, sweep.stderr);
    const sweepId = JSON.parse(sweep.stdout).sweep_id as string;
    const a = await replayJson(cellsOut, db, "--tie-band", "0");
    const b = await replayJson(sweepId, db, "--tie-band", "0");
    // Four requests in flight: four slots serve them without queueing.
    assert.deepEqual(a.recommendation.knobs, { parallel: 4 });
    assert.deepEqual(b.recommendation.knobs, a.recommendation.knobs);
    assert.equal(b.recipe.inputs.source.sweep_id, sweepId);
    assert.equal(a.trials[0].replicates.length, 2);
  });

  it("refuses a workload list and a replay file with a bad line, in one line each", async () => {
    const list = await runCli([
      "tune",
      "--server-cmd",
      "x --port {port}",
      "--concurrency",
      "1,2",
      "--db",
      join(dir, "e.sqlite"),
    ]);
    assert.equal(list.code, 2);
    assert.match(list.stderr, /a tune measures one workload/);
    const url = await runCli(["tune", "--url", "http://127.0.0.1:9/v1", "--db", join(dir, "e.sqlite")]);
    assert.equal(url.code, 2);
    assert.match(url.stderr, /a tune launches the server once per configuration/);
    const good = join(dir, "objective.jsonl");
    await writeFile(good, grid());
    const objective = await runCli([
      "tune",
      "--replay",
      good,
      "--objective",
      "requests",
      "--db",
      join(dir, "e.sqlite"),
    ]);
    assert.equal(objective.code, 2);
    // The sweep's objective `requests` is not among the tune's choices (nor listed twice in its help).
    assert.match(
      objective.stderr,
      /objective, Given: "requests", Choices: "throughput", "latency", "goodput"\n/,
    );
    const help = await runCli(["tune", "--help"]);
    // One line each among the options (the examples use them too).
    assert.equal(help.stdout.match(/^ +--objective /gm)?.length, 1);
    assert.equal(help.stdout.match(/^ +--resume /gm)?.length, 1);
    for (const flag of ["--dry-run", "--cells-out", "--abort-on-error", "--url"])
      assert.doesNotMatch(help.stdout, new RegExp(`${flag} `), `${flag} is a sweep flag`);
    assert.match(help.stdout, /--json +Print \{tune_id/);
    assert.doesNotMatch(objective.stderr, /internal error/);
    const bad = join(dir, "bad.jsonl");
    await writeFile(bad, '{"knobs": {"parallel": 1}, "status": "fine"}\n');
    const run = await runCli(["tune", "--replay", bad, "--db", join(dir, "e.sqlite")]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /bad\.jsonl:1: "status" must be one of ok, oom, crash, timeout, error/);
    assert.doesNotMatch(run.stderr, /\n\s+at /);
  });

  it("tunes the simulated server live: the out-of-memory context is never recommended, every trial is stored", async () => {
    const db = join(dir, "live.sqlite");
    const run = await runCli([
      "tune",
      "--server-cmd",
      sim(),
      ...LIVE,
      "--replicates",
      "2",
      "--max-trials",
      "6",
      "--json",
      "--db",
      db,
      "--no-progress",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.ok(["found", "budget_exhausted"].includes(out.exit_reason));
    assert.notEqual(out.recommendation.knobs.ctx, 32768);
    assert.equal(tuneTrials(db).length, out.trials_used);
    for (const t of out.trials) if (t.status === "feasible") assert.equal(t.replicates.length, 2);
    const conn = new Database(db, { readonly: true });
    // Every replicate is an ordinary stored run.
    const runs = (
      conn.prepare("SELECT count(*) AS n FROM runs WHERE status = 'completed'").get() as { n: number }
    ).n;
    conn.close();
    assert.equal(
      runs,
      out.trials.reduce((n: number, t: { replicates: unknown[] }) => n + t.replicates.length, 0),
    );
  });

  it("biggest fit on the simulated server: the largest file runs out of memory, the next is tuned, the smallest is never launched", async () => {
    const files: Record<string, string> = {};
    for (const type of ["f32", "f16", "q4_0"]) {
      files[type] = join(dir, `tiny-${type}.gguf`);
      const made = await runCli([
        "synth",
        "--preset",
        "tiny",
        "--type",
        type,
        "--out",
        files[type] as string,
      ]);
      assert.equal(made.code, 0, made.stderr);
    }
    const db = join(dir, "fit.sqlite");
    const run = await runCli([
      "tune",
      "--server-cmd",
      `${process.execPath} ${CLI} mock --simulate --port {port} -m {model} -c {ctx} -np {parallel} --memory-budget-mib 20 --decode-tps 50 --prefill-tps 1000 --startup-ms 100`,
      // Largest first is the default order; given here as the contract it is.
      "--candidates",
      `${files.f32},${files.f16},${files.q4_0}`,
      ...LIVE.slice(0, 4).map((a) => a.replace("ctx=4096,16384,32768", "ctx=2048,4096")),
      ...LIVE.slice(4),
      "--replicates",
      "1",
      "--max-trials",
      "5",
      "--json",
      "--db",
      db,
      "--no-progress",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const out = JSON.parse(run.stdout);
    assert.equal(out.recipe.evidence.rejected_candidates[0]?.model, files.f32);
    assert.match(out.recipe.evidence.rejected_candidates[0]?.reason, /oom|allocate/);
    assert.equal(out.recommendation.model.path, files.f16);
    assert.match(out.recommendation.model.sha256, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(out.recipe.evidence.not_measured_candidates, [files.q4_0]);
    assert.ok(out.trials.every((t: { knobs: { model?: string } }) => t.knobs.model !== files.q4_0));
    const conn = new Database(db, { readonly: true });
    const configs = conn.prepare("SELECT config_json FROM runs").all() as { config_json: string }[];
    conn.close();
    assert.ok(configs.length > 0);
    assert.ok(
      configs.every((c) => !c.config_json.includes("tiny-q4_0")),
      "the smallest candidate was measured",
    );
  });

  it("--resume after SIGKILL measures nothing already stored", async () => {
    const db = join(dir, "resume.sqlite");
    const started = startCli([
      "tune",
      "--server-cmd",
      sim(" --noise 0.05"),
      ...LIVE,
      "--replicates",
      "2",
      "--max-trials",
      "7",
      "--anchor-every",
      "3",
      "--json",
      "--db",
      db,
    ]);
    await waitFor("two stored trials", () => tuneTrials(db).length >= 2, 120_000);
    started.child.kill("SIGKILL");
    await started.done;
    killOrphanedServers(started.stderr());
    const before = tuneTrials(db);
    const tuneId = /tune ([0-9a-f-]{36})/.exec(started.stderr())?.[1];
    assert.ok(tuneId, started.stderr());
    const countRuns = () => {
      const c = new Database(db, { readonly: true });
      try {
        return (
          c
            .prepare("SELECT count(*) AS n FROM runs WHERE json_extract(config_json, '$.tune_id') = ?")
            .get(tuneId) as { n: number }
        ).n;
      } finally {
        c.close();
      }
    };
    // Runs stored before the resume, including those of a trial the kill cut short.
    const runsBefore = countRuns();
    const resumed = await runCli([
      "tune",
      "--resume",
      tuneId as string,
      "--json",
      "--db",
      db,
      "--no-progress",
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const out = JSON.parse(resumed.stdout);
    assert.equal(out.resumed_trials, before.length);
    const afterTrials = tuneTrials(db);
    // The stored trials are the same rows with the same runs: served, not measured again.
    for (const t of before) assert.equal(afterTrials[t.idx]?.replicates_json, t.replicates_json);
    const conn = new Database(db, { readonly: true });
    const runIds = afterTrials.flatMap((t) =>
      JSON.parse(t.replicates_json).map((m: { run_id: string }) => m.run_id),
    );
    assert.equal(new Set(runIds).size, runIds.length, "a run belongs to two trials");
    // Runs stored after the kill belong only to trials measured after it.
    const laterRuns = conn
      .prepare("SELECT id FROM runs WHERE json_extract(config_json, '$.tune_id') = ?")
      .all(tuneId)
      .map((r) => (r as { id: string }).id);
    conn.close();
    const beforeRuns = new Set(
      before.flatMap((t) => JSON.parse(t.replicates_json).map((m: { run_id: string }) => m.run_id)),
    );
    const measuredAgain = afterTrials
      .filter((t) => t.idx >= before.length)
      .flatMap((t) => JSON.parse(t.replicates_json).map((m: { run_id: string }) => m.run_id))
      .filter((id: string) => beforeRuns.has(id));
    assert.deepEqual(measuredAgain, []);
    assert.ok(laterRuns.length >= runIds.length);
    // The resumed session measured exactly the replicates of its new trials: a stored trial measured
    // again (and discarded) would add runs.
    const newReplicates = afterTrials
      .filter((t) => t.idx >= before.length)
      .reduce((n, t) => n + JSON.parse(t.replicates_json).length, 0);
    assert.equal(countRuns() - runsBefore, newReplicates);
  });

  it("SIGTERM stops after the trial under way: its trials kept, the tune stored as interrupted, exit 143, no server left", async () => {
    const db = join(dir, "term.sqlite");
    const started = startCli([
      "tune",
      "--server-cmd",
      sim(),
      ...LIVE,
      "--replicates",
      "2",
      "--max-trials",
      "9",
      "--json",
      "--db",
      db,
    ]);
    await waitFor("a stored trial", () => tuneTrials(db).length >= 1, 120_000);
    started.child.kill("SIGTERM");
    const run = await started.done;
    assert.equal(run.code, 143, run.stderr);
    assert.match(run.stderr, /SIGTERM: stopping cleanly/);
    assert.match(run.stderr, /resume it with: tokbench tune --resume [0-9a-f-]{36}/);
    const out = JSON.parse(run.stdout);
    assert.equal(out.exit_reason, "interrupted");
    assert.equal(out.trials_used, tuneTrials(db).length);
    assert.ok(out.trials_used < 9);
    const conn = new Database(db, { readonly: true });
    const tune = conn.prepare("SELECT status, exit_reason FROM tunes").get() as {
      status: string;
      exit_reason: string;
    };
    conn.close();
    assert.deepEqual(tune, { status: "interrupted", exit_reason: "interrupted" });
    // The simulated server the trial launched was stopped with it.
    const port = /--port (\d+)/.exec(run.stderr)?.[1];
    if (port !== undefined) {
      const alive = await fetch(`http://127.0.0.1:${port}/health`).then(
        () => true,
        () => false,
      );
      assert.equal(alive, false, "the server outlived the tune");
    }
  });
});
