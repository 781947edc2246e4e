import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import pg from "pg";
import { freshDatabase, serverPassword } from "../storage/postgres/fixtures/postgresServer.js";
import { killOrphanedServers, LIVE, sim } from "./fixtures/simulatedTune.js";
import { type CliRun, runCli, startCli, waitFor } from "./runCli.js";

function noPassword(run: CliRun, what: string): void {
  const password = serverPassword();
  assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), `${what} shows the password`);
}

/** Runs one query on `url` with a connection of its own. */
async function query<T>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql, params)).rows as T[];
  } finally {
    await client.end();
  }
}

type TrialRow = { idx: number; kind: string; replicates_json: string };

/** The stored trials of the database's tunes, in order; none while the tune has not created its tables. */
async function trials(url: string): Promise<TrialRow[]> {
  try {
    return await query<TrialRow>(
      url,
      "SELECT idx::INTEGER AS idx, kind, replicates_json FROM tune_trials ORDER BY idx",
    );
  } catch {
    return [];
  }
}

/** A recorded grid: throughput grows with parallel and batch, parallel 8 runs out of memory. */
function grid(): string {
  const lines: string[] = [];
  for (const parallel of [1, 2, 4, 8])
    for (const batch of [256, 512, 1024, 2048]) {
      if (parallel === 8) {
        lines.push(JSON.stringify({ knobs: { parallel, batch }, status: "oom" }));
        continue;
      }
      for (const r of [0, 1, 2]) {
        const tps = 10 * parallel + batch / 256 + r * 0.1;
        lines.push(
          JSON.stringify({
            knobs: { parallel, batch },
            status: "ok",
            output_tokens_per_s: tps,
            ttft_p95_ms: 100 * parallel,
            itl_p95_ms: 5,
            requests_per_s: tps / 10,
            goodput_rps: tps / 10,
          }),
        );
      }
    }
  return `${lines.join("\n")}\n`;
}

describe("tokbench tune on PostgreSQL", () => {
  const dir = mkdtempSync(join(tmpdir(), "tokbench-pg-tune-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a replayed tune is stored, listed and shown from PostgreSQL as from a SQLite file", async () => {
    const cells = join(dir, "cells.jsonl");
    writeFileSync(cells, grid());
    const pgUrl = await freshDatabase("tune_replay");
    const file = join(dir, "replay.sqlite");
    const args = ["tune", "--replay", cells, "--max-trials", "8", "--json", "--no-progress"];
    const onFile = await runCli([...args, "--db", file]);
    assert.equal(onFile.code, 0, onFile.stderr);
    const onPg = await runCli([...args, "--db", pgUrl]);
    assert.equal(onPg.code, 0, onPg.stderr);
    noPassword(onPg, "tune");
    assert.match(
      onPg.stderr,
      /tune [0-9a-f-]{36} saved to postgres:\/\/\[redacted\]@127\.0\.0\.1:\d+\/\S+\n/,
    );
    const a = JSON.parse(onFile.stdout);
    const b = JSON.parse(onPg.stdout);
    assert.deepEqual(b.recommendation, a.recommendation);
    assert.equal(b.trials_used, a.trials_used);
    assert.equal(b.recipe_hash, a.recipe_hash, "the same inputs give the same recipe");

    // runs --tunes and show TUNE answer the same from either store, but for the ids and times.
    const strip = (tune: Record<string, unknown>) => {
      const { tune_id: _id, started_at: _s, ended_at: _e, recipe: _r, ...rest } = tune;
      return rest;
    };
    const listed = async (db: string) => {
      const run = await runCli(["runs", "--tunes", "--json", "--db", db]);
      assert.equal(run.code, 0, run.stderr);
      return (JSON.parse(run.stdout).tunes as Record<string, unknown>[]).map(strip);
    };
    assert.deepEqual(await listed(pgUrl), await listed(file));
    const shownPg = await runCli(["show", b.tune_id.slice(0, 8), "--json", "--db", pgUrl]);
    assert.equal(shownPg.code, 0, shownPg.stderr);
    noPassword(shownPg, "show TUNE");
    const shownFile = await runCli(["show", a.tune_id, "--json", "--db", file]);
    const pgTune = JSON.parse(shownPg.stdout);
    const fileTune = JSON.parse(shownFile.stdout);
    assert.equal(pgTune.tune_id, b.tune_id);
    assert.equal(pgTune.recipe.recipe_hash, b.recipe_hash);
    const trialsOf = (t: { trials: Record<string, unknown>[] }) =>
      t.trials.map(({ elapsed_ms: _e, ...rest }) => rest);
    assert.deepEqual(trialsOf(pgTune), trialsOf(fileTune));
    assert.equal(pgTune.trials.length, b.trials_used);
    const text = await runCli(["show", b.tune_id, "--db", pgUrl]);
    assert.match(
      text.stdout,
      new RegExp(`tune ${b.tune_id} \\(completed\\).*${b.trials_used} trials, stopped because found`),
    );
  });

  it("--resume after SIGKILL measures nothing already stored, every run of the tune in PostgreSQL", async () => {
    const url = await freshDatabase("tune_resume");
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
      url,
      "--log-dir",
      join(dir, "logs"),
    ]);
    // Polled with a query per check: waitFor's condition is synchronous, so the count is refreshed
    // by a loop beside it.
    let stored = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        stored = (await trials(url)).length;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    try {
      await waitFor("two stored trials", () => stored >= 2, 120_000);
    } finally {
      polling = false;
      await poll;
    }
    started.child.kill("SIGKILL");
    await started.done;
    killOrphanedServers(started.stderr());
    const before = await trials(url);
    const tuneId = /tune ([0-9a-f-]{36})/.exec(started.stderr())?.[1] as string;
    assert.ok(tuneId, started.stderr());
    const countRuns = async () =>
      Number(
        (
          await query<{ n: string }>(
            url,
            "SELECT COUNT(*) AS n FROM runs WHERE (config_json::json ->> 'tune_id') = $1",
            [tuneId],
          )
        )[0]?.n,
      );
    const runsBefore = await countRuns();
    assert.ok(runsBefore >= 2 * before.length, "every replicate of a stored trial is a stored run");
    // Killed on this machine: the tune reads back incomplete, not running, so --resume takes it.
    const listed = await runCli(["runs", "--tunes", "--json", "--db", url]);
    assert.deepEqual(
      JSON.parse(listed.stdout).tunes.map((t: { tune_id: string; status: string }) => [t.tune_id, t.status]),
      [[tuneId, "incomplete"]],
    );

    const resumed = await runCli([
      "tune",
      "--resume",
      tuneId,
      "--json",
      "--db",
      url,
      "--no-progress",
      "--log-dir",
      join(dir, "logs"),
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    noPassword(resumed, "tune --resume");
    const out = JSON.parse(resumed.stdout);
    assert.equal(out.resumed_trials, before.length);
    const afterTrials = await trials(url);
    assert.equal(afterTrials.length, out.trials_used);
    for (const t of before) assert.equal(afterTrials[t.idx]?.replicates_json, t.replicates_json);
    const runIds = afterTrials.flatMap((t) =>
      JSON.parse(t.replicates_json).map((m: { run_id: string }) => m.run_id),
    );
    assert.equal(new Set(runIds).size, runIds.length, "a run belongs to two trials");
    // The resumed session measured exactly the replicates of its new trials, each a stored run.
    const newReplicates = afterTrials
      .filter((t) => t.idx >= before.length)
      .reduce((n, t) => n + JSON.parse(t.replicates_json).length, 0);
    assert.equal((await countRuns()) - runsBefore, newReplicates);
    const stillThere = await query<{ id: string }>(url, "SELECT id FROM runs WHERE id = ANY($1)", [runIds]);
    assert.equal(stillThere.length, runIds.length, "every trial's run is stored");
    const [row] = await query<{ status: string; recipe_json: string | null }>(
      url,
      "SELECT status, recipe_json FROM tunes WHERE id = $1",
      [tuneId],
    );
    assert.equal(row?.status, "completed");
    assert.equal(JSON.parse(row?.recipe_json as string).recipe_hash, out.recipe_hash);
    const dump = await query<{ t: string }>(url, "SELECT row_to_json(t)::TEXT AS t FROM tunes t");
    assert.ok(!dump.some((r) => r.t.includes(serverPassword())));
  });
});
