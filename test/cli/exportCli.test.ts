import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { MockServer } from "../../src/mock/MockServer.js";
import { writeExport } from "../../src/output/export/writeExport.js";
import type { RequestRecord } from "../../src/results/RequestRecord.js";
import { RunStore } from "../../src/storage/RunStore.js";
import { runCli } from "./runCli.js";

describe("tokbench export (CLI, real SQLite)", () => {
  let dir: string;
  let db: string;
  let mock: MockServer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-export-"));
    db = join(dir, "runs.sqlite");
    mock = new MockServer({ ttftMs: 2, itlMs: 1, timings: true, errorRate: 0.3, seed: 3 });
    const url = await mock.start();
    const run = await runCli([
      "bench",
      "--url",
      url,
      "--model",
      "m",
      "-n",
      "15",
      "-c",
      "3",
      "--max-tokens",
      "5",
      "--prompt-tokens",
      "8",
      "--db",
      db,
    ]);
    assert.ok(run.code === 0, run.stderr);
  });
  after(async () => {
    await mock.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("exports every request exactly, as JSON Lines and as CSV", async () => {
    const store = RunStore.open(db);
    const stored = store.getRun(await store.history().resolveRun("last")).requests.toArray();
    store.close();
    const jsonl = await runCli(["export", "last", "--format", "jsonl", "--db", db]);
    assert.equal(jsonl.code, 0, jsonl.stderr);
    const lines = jsonl.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 15);
    lines.forEach((row, i) => {
      const r = stored[i] as RequestRecord;
      assert.equal(row.ttft_ms, r.ttft_ms);
      assert.equal(row.e2e_ms, r.e2e_ms);
      assert.equal(row.error_code, r.error?.code ?? null);
      assert.equal(row.server_decode_ms, r.server_timings?.decode_ms ?? null);
    });
    assert.ok(
      lines.some((row) => row.error_code !== null),
      "the mock failed some requests",
    );
    const out = join(dir, "requests.csv");
    const csv = await runCli(["export", "last", "--db", db, "--out", out]);
    assert.equal(csv.code, 0, csv.stderr);
    const text = await readFile(out, "utf8");
    const rows = text.trim().split("\n");
    assert.equal(rows.length, 16);
    assert.match(rows[0] as string, /^index,planned_offset_ms,sent_offset_ms,/);
    const ok = stored.findIndex((r) => r.ttft_ms !== null);
    assert.equal(Number((rows[ok + 1] as string).split(",")[5]), stored[ok]?.ttft_ms);
  });

  it("an existing --out (export, report, tune) is refused untouched unless --force; nothing is left half-written", async () => {
    const cases: [string, string[]][] = [
      ["kept.csv", ["export", "last", "--db", db]],
      ["kept.html", ["report", "last", "--db", db]],
      ["kept.json", ["tune", "--db", db]],
    ];
    for (const [name, args] of cases) {
      const out = join(dir, name);
      await writeFile(out, "precious\n");
      const refused = await runCli([...args, "--out", out]);
      assert.equal(refused.code, 1, `${args[0]}: ${refused.stderr}`);
      assert.equal(
        refused.stderr,
        `tokbench: ${out} already exists (--force replaces it, or give another --out) [FILE_EXISTS]\n`,
      );
      assert.equal(await readFile(out, "utf8"), "precious\n", args[0]);
    }
    for (const [name, args] of cases.slice(0, 2)) {
      const out = join(dir, name);
      const forced = await runCli([...args, "--out", out, "--force"]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.notEqual(await readFile(out, "utf8"), "precious\n", String(args[0]));
    }
    // An export that fails leaves nothing under the name, nor beside it.
    const failed = await runCli(["export", "no-such-run", "--db", db, "--out", join(dir, "none.csv")]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.startsWith("none.csv")),
      [],
    );
  });

  it("report --png into a folder that holds PNG files is refused before any work unless --force", async () => {
    const pngs = join(dir, "charts");
    await mkdir(pngs, { recursive: true });
    await writeFile(join(pngs, "ttft.png"), "precious\n");
    const out = join(dir, "png-refused.html");
    const refused = await runCli(["report", "last", "--db", db, "--out", out, "--png", pngs]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.equal(
      refused.stderr,
      `tokbench: ${pngs} already holds 1 .png file (--force replaces them, or give another --png) [FILE_EXISTS]\n`,
    );
    assert.equal(await readFile(join(pngs, "ttft.png"), "utf8"), "precious\n");
    // Refused before the report is written, not after.
    assert.equal(existsSync(out), false);
    // A folder without PNG files (here: one that does not exist) gets past the check to the browser.
    const fresh = await runCli([
      "report",
      "last",
      "--db",
      db,
      "--out",
      join(dir, "png-fresh.html"),
      "--png",
      join(dir, "new"),
      "--browser",
      join(dir, "no-chromium"),
    ]);
    assert.equal(fresh.code, 1, fresh.stderr);
    assert.match(fresh.stderr, /\[BROWSER_UNAVAILABLE\]\n$/);
  });

  it("exports the summary and the tests, and refuses unknown formats", async () => {
    const md = await runCli(["export", "last", "--what", "summary", "--format", "md", "--db", db]);
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /^\| metric \| count \| mean /);
    assert.match(md.stdout, /\| ttft\\_ms \| \d+ \|/);
    assert.match(md.stdout, /\| requests\\_total \| {2}\| 15 \|/);
    const tests = await runCli(["export", "last", "--what", "tests", "--db", db]);
    assert.equal(tests.code, 0, tests.stderr);
    assert.equal(tests.stdout.trim().split("\n").length, 1, "header only: an HTTP run has no tests");
    const bad = await runCli(["export", "last", "--format", "xlsx", "--db", db]);
    assert.equal(bad.code, 2);
    const missing = await runCli(["export", "nope", "--db", db]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /RUN_NOT_FOUND/);
  });

  it("keeps server text inert: no spreadsheet formula, no Markdown table break", async () => {
    let csv = "";
    let md = "";
    const sink = (append: (s: string) => void) =>
      new Writable({
        write(chunk: Buffer, _e, cb) {
          append(chunk.toString());
          cb();
        },
      });
    const rows = [{ a: '=HYPERLINK("http://x")', b: "x | y\nz" }];
    await writeExport(
      ["a", "b"],
      rows,
      "csv",
      sink((s) => (csv += s)),
    );
    await writeExport(
      ["a", "b"],
      rows,
      "md",
      sink((s) => (md += s)),
    );
    assert.match(csv, /^a,b\n"'=HYPERLINK\(""http:\/\/x""\)","x \| y\nz"\n$/);
    assert.equal(md.trim().split("\n").length, 3);
    assert.match(md, /x \\\| y z/);
  });
});
