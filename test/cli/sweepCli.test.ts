import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { MockServer } from "../../src/mock/MockServer.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { completedRunsPerCell, finishedCells } from "../sweep/fixtures/finishedCells.js";
import { alive, runCli, startCli, waitFor } from "./runCli.js";

const MINI = fileURLToPath(new URL("../sweep/fixtures/miniServer.js", import.meta.url));

async function pids(file: string): Promise<number[]> {
  if (!existsSync(file)) return [];
  return (await readFile(file, "utf8")).split("\n").filter(Boolean).map(Number);
}

async function allGone(list: number[], timeoutMs = 8000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!list.some(alive)) return true;
    await sleep(50);
  }
  return !list.some(alive);
}

/**
 * A sweep of the mini server long enough to be stopped half-way: `server` adds the server's flags
 * (with `--port {port} --ttft-ms 5 --startup-ms 20`), one knob, the concurrencies, 6 requests of
 * 16 + 10 tokens a cell, 2 s for a server to stop.
 */
function stoppableSweep(server: string, knob: string, concurrency: string, db: string): string[] {
  return [
    "sweep",
    "--server-cmd",
    `${process.execPath} ${MINI} --port {port} --ttft-ms 5 --startup-ms 20 ${server}`,
    "--knob",
    knob,
    "-c",
    concurrency,
    "--prompt-tokens",
    "16",
    "--max-tokens",
    "10",
    "-n",
    "6",
    "--stop-grace",
    "2",
    "--db",
    db,
  ];
}

describe("tokbench sweep", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-sweep-cli-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("--json prints the contract's shape, every cell's run is stored and linked, --cells-out writes replay lines", async () => {
    const db = join(dir, "json.sqlite");
    const cellsOut = join(dir, "cells.jsonl");
    const run = await runCli([
      "sweep",
      "--server-cmd",
      `${process.execPath} ${MINI} --port {port} --ctx {ctx} --parallel {parallel} --budget-bytes 5000000 --ttft-ms 5 --itl-ms 15 --startup-ms 20`,
      "--knob",
      "ctx=2048,8192",
      "--knob",
      "parallel=1,2",
      "--concurrency",
      "1,2",
      "--prompt-tokens",
      "16",
      "--max-tokens",
      "6",
      "--requests",
      "4",
      "--model",
      "m",
      "--max-ttft-p95-ms",
      "2000",
      "--stop-grace",
      "2",
      "--json",
      "--db",
      db,
      "--cells-out",
      cellsOut,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(typeof result.sweep_id, "string");
    assert.equal(result.status, "completed");
    assert.equal(result.cells.length, 8);
    for (const cell of result.cells) {
      for (const key of ["knobs", "workload", "status", "reason", "notes", "run_id", "summary"]) {
        assert.ok(key in cell, `cell lacks ${key}`);
      }
      assert.deepEqual(Object.keys(cell.knobs).sort(), ["ctx", "parallel"]);
      assert.deepEqual(Object.keys(cell.workload).sort(), ["concurrency", "max_tokens", "prompt_tokens"]);
    }
    const ok = result.cells.filter((c: { status: string }) => c.status === "feasible");
    assert.equal(ok.length, 4, "ctx 2048 fits in the 5 MB budget (1 KB a token), 8192 does not");
    for (const cell of ok) {
      for (const key of ["ttft_ms", "itl_ms", "output_tokens_per_s", "requests_per_s", "goodput_rps"]) {
        assert.ok(cell.summary[key] !== null && cell.summary[key] !== undefined, `summary lacks ${key}`);
      }
      assert.ok(cell.summary.ttft_ms.p95 > 0);
    }
    const oom = result.cells.filter((c: { failure: string }) => c.failure === "oom");
    const skipped = result.cells.filter((c: { status: string }) => c.status === "skipped");
    assert.equal(oom.length, 2, "ctx=8192 parallel=1 ran out of memory at launch");
    assert.equal(skipped.length, 2, "ctx=8192 parallel=2 is heavier: skipped");
    assert.match(run.stderr, /saved to/);
    // Listed and shown like runs: `runs --sweeps`, `show SWEEP` (a prefix of 8) and `show SWEEP --json`.
    const listed = await runCli(["runs", "--sweeps", "--json", "--db", db]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(
      JSON.parse(listed.stdout).sweeps.map((x: { sweep_id: string; finished_cells: number }) => [
        x.sweep_id,
        x.finished_cells,
      ]),
      [[result.sweep_id, 8]],
    );
    const shown = await runCli(["show", result.sweep_id.slice(0, 8), "--db", db]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /\(completed\) started .*: 8 of 8 cells finished/);
    assert.match(shown.stdout, /out of memory|oom/i);
    const shownJson = JSON.parse((await runCli(["show", result.sweep_id, "--json", "--db", db])).stdout);
    assert.equal(shownJson.sweep_id, result.sweep_id);
    assert.equal(shownJson.cells.length, 8);

    const store = RunStore.open(db);
    try {
      const stored = store.sweeps().get(result.sweep_id);
      assert.equal(stored.status, "completed");
      assert.equal(stored.cells.length, 8);
      for (const cell of ok) {
        const runRow = store.getRun(cell.run_id);
        assert.equal(runRow.status, "completed");
        assert.equal(runRow.requests.length, 4);
        assert.equal(runRow.config.sweep_id, result.sweep_id);
      }
    } finally {
      store.close();
    }
    const lines = (await readFile(cellsOut, "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 6, "4 measured replicates + 2 failed launches; skipped cells give no line");
    assert.deepEqual(Object.keys(lines[0]).sort(), [
      "cell",
      "feasible",
      "goodput_rps",
      "itl_p95_ms",
      "knobs",
      "output_tokens_per_s",
      "replicate",
      "requests_per_s",
      "status",
      "ttft_p95_ms",
      "workload",
    ]);
  });

  it("the terminal shows a grid, the best feasible cell and where the time went", async () => {
    const run = await runCli([
      "sweep",
      "--server-cmd",
      `${process.execPath} ${MINI} --port {port} --parallel {parallel} --ttft-ms 5 --itl-ms 15 --startup-ms 20`,
      "--knob",
      "parallel=1,2",
      "-c",
      "1,2,4",
      "--prompt-tokens",
      "16",
      "--max-tokens",
      "6",
      "-n",
      "4",
      "--stop-grace",
      "2",
      "--db",
      join(dir, "grid.sqlite"),
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /concurrency \\ parallel|parallel \\ concurrency/);
    assert.match(run.stdout, /best feasible cell for throughput: parallel=\d concurrency=\d/);
    assert.match(run.stdout, /wall \d+\.\d s: measuring \d+ % .* launching and waiting for ready \d+ %/);
    assert.match(run.stderr, /\[6\/6\] /);
  });

  it("--dry-run of 1,000 cells plans without launching anything or touching the database", async () => {
    const db = join(dir, "dry.sqlite");
    const t0 = performance.now();
    const run = await runCli([
      "sweep",
      "--server-cmd",
      "llama-server -m m.gguf --port {port} -c {ctx} -np {parallel}",
      "--knob",
      "ctx=1-10",
      "--knob",
      "parallel=1-10",
      "--concurrency",
      "1-10",
      "--dry-run",
      "--json",
      "--db",
      db,
    ]);
    const wall = performance.now() - t0;
    assert.equal(run.code, 0, run.stderr);
    const plan = JSON.parse(run.stdout);
    assert.equal(plan.cells, 1000);
    assert.equal(plan.configurations, 100);
    assert.equal(plan.launches, 100);
    assert.equal(plan.planned.length, 1000);
    assert.ok(plan.estimated_duration_s > 0);
    assert.equal(existsSync(db), false);
    // The speed target itself is measured in bench/sweepDryRun.ts; this only guards against a blow-up.
    assert.ok(wall < 30_000, `${wall} ms`);
  });

  it("refuses bad input with one line: unknown placeholder, a knob without a placeholder, --resume with settings", async () => {
    // A wrong command line exits 2; a sweep id that is not in the database, 1.
    const cases: [string[], RegExp][] = [
      [
        ["--server-cmd", "srv --port {port} -c {ctx}"],
        /placeholder \{ctx\} has no value: give it with --knob ctx=/,
      ],
      [["--server-cmd", "srv --port {port}", "--knob", "ctx=1,2"], /knob "ctx" has no \{ctx\} placeholder/],
      [["--server-cmd", "srv -c {ctx}", "--knob", "ctx=1"], /must contain \{port\}/],
      [
        ["--server", "mlx-lm", "--model-file", "m", "--ctx-size", "4096"],
        /--ctx-size has no equivalent for mlx-lm/,
      ],
      [
        ["--server", "llama-server", "--model-file", "m.gguf", "--cache-type-k", "q9"],
        /--cache-type-k: invalid value "q9"/,
      ],
      [
        ["--resume", "abc", "--knob", "x=1"],
        /--resume continues the sweep with its stored settings: drop --knob/,
      ],
      [["--resume", "no-such-sweep-id"], /no sweep "no-such-sweep-id"/],
      [[], /name the server/],
    ];
    for (const [args, pattern] of cases) {
      const run = await runCli(["sweep", ...args, "--db", join(dir, "bad.sqlite")]);
      assert.equal(run.code, args[1] === "no-such-sweep-id" ? 1 : 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, pattern, args.join(" "));
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    }
  });

  it("--url sweeps the workload of a server already running; bench points list values to it", async () => {
    const mock = new MockServer({ ttftMs: 5, itlMs: 15 });
    const base = await mock.start();
    try {
      const run = await runCli([
        "sweep",
        "--url",
        base,
        "--model",
        "m",
        "-c",
        "1,2",
        "--max-tokens",
        "4,6",
        "--prompt-tokens",
        "8",
        "-n",
        "3",
        "--json",
        "--db",
        join(dir, "url.sqlite"),
      ]);
      assert.equal(run.code, 0, run.stderr);
      const result = JSON.parse(run.stdout);
      assert.equal(result.cells.length, 4);
      for (const cell of result.cells) {
        assert.deepEqual(cell.knobs, {});
        assert.equal(cell.status, "feasible", JSON.stringify(cell.replicates[0]?.checks));
      }
      assert.equal(result.timing.launches, 1, "attached once, nothing launched");
      const refused = await runCli([
        "sweep",
        "--url",
        base,
        "--model",
        "m",
        "--ctx-size",
        "1,2",
        "--db",
        join(dir, "url.sqlite"),
      ]);
      assert.equal(refused.code, 2);
      assert.match(
        refused.stderr,
        /--url sweeps the workload of a server that is already running: --ctx-size cannot apply/,
      );

      const bench = await runCli([
        "bench",
        "--url",
        base,
        "--model",
        "m",
        "--concurrency",
        "1,2,4",
        "--no-save",
      ]);
      assert.equal(bench.code, 2);
      assert.match(
        bench.stderr,
        /--concurrency takes one value in bench \(got "1,2,4"\); to measure each of several, sweep them: tokbench sweep --url ".*" --model "m" --concurrency 1,2,4/,
      );
      const range = await runCli([
        "bench",
        "--url",
        base,
        "--model",
        "m",
        "--max-tokens",
        "16-64*2",
        "--no-save",
      ]);
      assert.match(range.stderr, /--max-tokens takes one value in bench \(got "16-64\*2"\)/);
      assert.doesNotMatch(range.stderr, /got null/);
    } finally {
      await mock.close();
    }
  });

  it("reads a YAML sweep file; flags win over it", async () => {
    const file = join(dir, "sweep.yaml");
    await writeFile(
      file,
      [
        `server_cmd: "${process.execPath} ${MINI} --port {port} --parallel {parallel} --ttft-ms 5 --itl-ms 15 --startup-ms 20"`,
        "knobs:",
        "  parallel: [1, 2]",
        "workload:",
        "  concurrency: 1-2",
        "  prompt_tokens: 16",
        "  max_tokens: 6",
        "requests: 3",
        "stop_grace_s: 2",
        "budgets:",
        "  max_ttft_p95_ms: 5000",
        "",
      ].join("\n"),
    );
    const run = await runCli([
      "sweep",
      "--file",
      file,
      "--knob",
      "parallel=2",
      "--json",
      "--db",
      join(dir, "file.sqlite"),
    ]);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.deepEqual(
      result.cells.map((c: { knobs: { parallel: number }; workload: { concurrency: number } }) => [
        c.knobs.parallel,
        c.workload.concurrency,
      ]),
      [
        [2, 1],
        [2, 2],
      ],
    );
    await writeFile(join(dir, "bad.yaml"), "knobs:\n  parallel: [1, 2]\nbogus: 1\n");
    const bad = await runCli(["sweep", "--file", join(dir, "bad.yaml"), "--db", join(dir, "file.sqlite")]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /sweep file .*bad\.yaml: top level: Unrecognized key\(s\) in object: 'bogus' \[SWEEP_FILE_INVALID\]/,
    );
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`${signal} stops the sweep, leaves no server, marks it interrupted; --resume finishes it`, async () => {
      const db = join(dir, `${signal}.sqlite`);
      const pidFile = join(dir, `${signal}.pids`);
      const started = startCli(
        stoppableSweep(`--itl-ms {itl} --pid-file ${pidFile}`, "itl=15,16", "1,2", db),
      );
      await waitFor("a finished cell", () => finishedCells(db).length >= 1);
      started.child.kill(signal);
      const run = await started.done;
      assert.equal(run.code, signal === "SIGINT" ? 130 : 143, run.stderr);
      assert.match(run.stderr, /stopping cleanly/);
      assert.match(run.stderr, /resume it with: tokbench sweep --resume/);
      assert.ok(await allGone(await pids(pidFile)), "a server survived");
      const id = /sweep ([0-9a-f-]{36}): interrupted/.exec(run.stdout)?.[1];
      assert.ok(id, run.stdout);
      const before = finishedCells(db);
      assert.ok(before.length < 4);

      const resumed = await runCli(["sweep", "--resume", id, "--db", db, "--json"]);
      assert.equal(resumed.code, 0, resumed.stderr);
      const result = JSON.parse(resumed.stdout);
      assert.equal(result.status, "completed");
      assert.equal(result.cells.length, 4);
      for (const b of before) {
        const after = result.cells.find((c: { key: string }) => c.key === b.cell_key);
        assert.equal(after.run_id, b.run_id, "a finished cell is not measured again");
      }
      assert.ok(await allGone(await pids(pidFile)));
    });
  }

  it("SIGKILL of tokbench: no server survives; --resume continues and measures no finished cell twice", async () => {
    const db = join(dir, "kill.sqlite");
    const pidFile = join(dir, "kill.pids");
    const started = startCli([
      ...stoppableSweep(
        `--parallel {parallel} --itl-ms 15 --pid-file ${pidFile}`,
        "parallel=1,2",
        "1,2,3",
        db,
      ),
      "--no-progress",
    ]);
    await waitFor("two finished cells", () => finishedCells(db).length >= 2);
    const before = finishedCells(db);
    started.child.kill("SIGKILL");
    await started.done;
    const servers = await pids(pidFile);
    assert.ok(servers.length >= 1);
    assert.ok(await allGone(servers), `server(s) ${servers.filter(alive)} survived the SIGKILL of tokbench`);

    const store = RunStore.open(db);
    const [sweep] = store.sweeps().list();
    store.close();
    assert.ok(sweep !== undefined);
    assert.equal(sweep.status, "incomplete");
    const resumed = await runCli(["sweep", "--resume", sweep.sweep_id.slice(0, 8), "--db", db, "--json"]);
    assert.equal(resumed.code, 0, resumed.stderr);
    const result = JSON.parse(resumed.stdout);
    assert.equal(result.cells.length, 6);
    for (const b of finishedCells(db).filter((c) => before.some((x) => x.cell_key === c.cell_key))) {
      assert.equal(b.run_id, before.find((x) => x.cell_key === b.cell_key)?.run_id);
    }
    // Every cell has exactly one completed run: none measured twice.
    const perCell = completedRunsPerCell(db);
    assert.equal(perCell.size, 6);
    for (const [cell, n] of perCell) assert.equal(n, 1, `cell ${cell} has ${n} completed runs`);
    assert.ok(await allGone(await pids(pidFile)));
  });
});
