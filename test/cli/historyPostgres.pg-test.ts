import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { MockServer } from "../../src/mock/MockServer.js";
import type { RunResult } from "../../src/results/RunResult.js";
import type { RunListItem } from "../../src/storage/RunHistory.js";
import { freshDatabase, serverPassword } from "../storage/postgres/fixtures/postgresServer.js";
import { type CliRun, mockBenchArgs, runCli } from "./runCli.js";

/** Every output of `runs` checked for the server's password. */
function noPassword(run: CliRun, what: string): void {
  const password = serverPassword();
  assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), `${what} shows the password`);
}

describe("the history commands on PostgreSQL (runs, show, compare, regress, report, export, accept)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tokbench-pg-history-"));
  let mock: MockServer;
  let url: string;
  before(async () => {
    mock = new MockServer({ ttftMs: 2, itlMs: 1, timings: true });
    url = await mock.start();
  });
  after(async () => {
    await mock.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answer on a PostgreSQL history exactly what they answer on the SQLite file it was copied from", async () => {
    const file = join(dir, "local.sqlite");
    const first = await runCli([
      ...mockBenchArgs(url, file, { requests: 12, concurrency: 2, maxTokens: 5 }),
      "--tag",
      "ci",
    ]);
    assert.equal(first.code, 0, first.stderr);
    const second = await runCli([
      ...mockBenchArgs(url, file, { requests: 12, concurrency: 2, maxTokens: 5 }),
      "--json",
    ]);
    assert.equal(second.code, 0, second.stderr);
    const pg = await freshDatabase("history_parity");
    const copied = await runCli(["db", "copy", "--from", file, "--to", pg]);
    assert.equal(copied.code, 0, copied.stderr);

    const listed = await runCli(["runs", "--db", file, "--json"]);
    const [newer, older] = (JSON.parse(listed.stdout) as { runs: RunListItem[] }).runs.map(
      (r) => r.run_id,
    ) as [string, string];
    const commands: string[][] = [
      ["runs", "--json"],
      ["runs", "--json", "--tag", "ci"],
      ["runs", "--json", "--model", "M", "--since", "1d", "--limit", "1"],
      ["runs", "--limit", "1"],
      ["show", "last", "--json"],
      ["show", older],
      ["show", older.slice(0, 8), "--json"],
      ["export", "last"],
      ["export", older, "--what", "summary", "--format", "md"],
      ["export", newer, "--format", "jsonl"],
      ["compare", older, newer, "--format", "json"],
      ["compare", older, "last"],
    ];
    for (const command of commands) {
      const local = await runCli([...command, "--db", file]);
      const team = await runCli([...command, "--db", pg]);
      assert.equal(local.code, 0, `${command.join(" ")}: ${local.stderr}`);
      assert.equal(team.code, 0, `${command.join(" ")} on PostgreSQL: ${team.stderr}`);
      assert.ok(team.stdout.length > 0);
      assert.equal(team.stdout, local.stdout, command.join(" "));
      noPassword(team, command.join(" "));
    }
    // `show --json` on PostgreSQL is what bench --json printed.
    const shown = await runCli(["show", newer, "--json", "--db", pg]);
    assert.equal(shown.stdout, second.stdout);

    // accept, then regress against the accepted baseline: the same verdict on both stores.
    for (const db of [file, pg]) {
      const accepted = await runCli(["accept", older, "--db", db]);
      assert.equal(accepted.code, 0, accepted.stderr);
      assert.match(accepted.stdout, new RegExp(`^run ${older} is the accepted baseline of m, `));
      noPassword(accepted, "accept");
    }
    const regressLocal = await runCli(["regress", "--current", newer, "--format", "json", "--db", file]);
    const regressTeam = await runCli(["regress", "--current", newer, "--format", "json", "--db", pg]);
    assert.equal(regressTeam.code, regressLocal.code, regressTeam.stderr);
    assert.equal(regressTeam.stdout, regressLocal.stdout);
    assert.equal((JSON.parse(regressTeam.stdout) as { baseline_run_id: string }).baseline_run_id, older);
    noPassword(regressTeam, "regress");
    // regress --rerun on PostgreSQL: the accepted baseline measured again, stored there, judged.
    const rerun = await runCli([
      "regress",
      "--baseline",
      "accepted",
      "--rerun",
      "--format",
      "json",
      "--db",
      pg,
    ]);
    const rerunReport = JSON.parse(rerun.stdout) as {
      baseline_run_id: string;
      current_run_id: string;
      exit_code: number;
    };
    assert.equal(rerunReport.baseline_run_id, older, rerun.stderr);
    assert.equal(rerun.code, rerunReport.exit_code);
    assert.ok(![older, newer].includes(rerunReport.current_run_id));
    noPassword(rerun, "regress --rerun");
    // Gone again, so the retention checks below see the two runs they expect.
    assert.equal((await runCli(["runs", "--delete", rerunReport.current_run_id, "--db", pg])).code, 0);

    // report: one HTML page of both runs, from either store.
    const pages = [];
    for (const [db, name] of [
      [file, "local.html"],
      [pg, "team.html"],
    ] as const) {
      const report = await runCli(["report", older, newer, "--out", join(dir, name), "--db", db]);
      assert.equal(report.code, 0, report.stderr);
      noPassword(report, "report");
      pages.push(readFileSync(join(dir, name), "utf8"));
    }
    assert.ok(pages[1]?.includes(older) && pages[1].includes(newer));
    assert.ok(!pages[1]?.includes(serverPassword()));
    // The same page but for the moment it was generated.
    const timeless = (html: string | undefined) =>
      html?.replace(/generated \S+ by/, "generated (time) by").replace(/"generated_at":"[^"]+"/, "");
    assert.equal(timeless(pages[1]), timeless(pages[0]));

    // Retention and deletion, through TOKBENCH_DB this time.
    const env = { TOKBENCH_DB: pg };
    const pruned = await runCli(["runs", "--prune", "2999-01-01", "--json"], { env });
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.deepEqual(
      (JSON.parse(pruned.stdout) as { deleted: string[] }).deleted,
      [newer],
      "the accepted run is kept",
    );
    const deleted = await runCli(["runs", "--delete", older.slice(0, 8)], { env });
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(deleted.stdout, `deleted 1 run: ${older}\n`);
    const empty = await runCli(["runs", "--json"], { env });
    assert.deepEqual(JSON.parse(empty.stdout), { total: 0, runs: [] });
    const missing = await runCli(["show", "last"], { env });
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^tokbench: no run \(last: the database has no runs\) in database postgres:\/\/\[redacted\]@127\.0\.0\.1:\d+\/\S+ \[RUN_NOT_FOUND\]\n$/,
    );
    noPassword(missing, "show");
  });

  it("a run benched into PostgreSQL shows as bench printed it, found through TOKBENCH_DB", async () => {
    const pg = await freshDatabase("history_bench");
    const text = await runCli(mockBenchArgs(url, pg, { requests: 8, concurrency: 2, maxTokens: 4 }));
    assert.equal(text.code, 0, text.stderr);
    const json = await runCli([
      ...mockBenchArgs(url, pg, { requests: 8, concurrency: 2, maxTokens: 4 }),
      "--json",
    ]);
    assert.equal(json.code, 0, json.stderr);
    const result = JSON.parse(json.stdout) as RunResult;
    const env = { TOKBENCH_DB: pg };
    assert.equal((await runCli(["show", "last", "--json"], { env })).stdout, json.stdout);
    const list = JSON.parse((await runCli(["runs", "--json"], { env })).stdout) as { runs: RunListItem[] };
    assert.deepEqual(
      list.runs.map((r) => [r.status, r.requests, r.model]),
      [
        ["completed", 8, "m"],
        ["completed", 8, "m"],
      ],
    );
    const older = list.runs[1]?.run_id as string;
    assert.notEqual(older, result.run_id);
    const shown = await runCli(["show", older], { env });
    assert.equal(shown.code, 0, shown.stderr);
    assert.equal(shown.stdout, text.stdout);
    const csv = await runCli(["export", result.run_id], { env });
    assert.equal(csv.stdout.trim().split("\n").length, 1 + 8, "a header and one line per request");
    // Sweeps and tunes are listed from PostgreSQL as from SQLite (none here; db copy's test lists some).
    for (const [flag, key] of [
      ["--sweeps", "sweeps"],
      ["--tunes", "tunes"],
    ] as const) {
      const listed = await runCli(["runs", flag, "--json"], { env });
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(JSON.parse(listed.stdout), { [key]: [] });
      noPassword(listed, `runs ${flag}`);
    }
    const unknown = await runCli(["show", "0123456789ab"], { env });
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /no run 0123456789ab in database postgres:\/\/\[redacted\]@.*\[RUN_NOT_FOUND\]\n$/,
    );
  });

  it("an unreachable PostgreSQL fails a history command in one line, without the password", async () => {
    const db = new URL(await freshDatabase("unreachable_history"));
    db.port = "9";
    for (const command of [["runs"], ["show", "last"], ["export", "last"], ["compare", "a", "b"]]) {
      const run = await runCli([...command, "--db", db.href]);
      assert.equal(run.code, 1, command.join(" "));
      assert.match(
        run.stderr,
        /^tokbench: cannot open in PostgreSQL database postgres:\/\/\[redacted\]@127\.0\.0\.1:9\/\S+: .*ECONNREFUSED.*\[DB_OPEN_FAILED\]\n$/,
      );
      noPassword(run, command.join(" "));
    }
  });
});
