import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../cli/runCli.js";
import { HOSTILE_ERROR, HOSTILE_SCRIPT, startHostileServer } from "./hostileServer.js";
import { ARTIFACTS, openReport } from "./openReport.js";

describe("tokbench report in headless Chromium", () => {
  let dir: string;
  let db: string;
  let server: Awaited<ReturnType<typeof startHostileServer>>;
  const hostileModel = "<script>window.__pwned='model'</script>";
  const hostileTag = `<img src=x onerror="window.__pwned='tag'">`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-report-"));
    db = join(dir, "runs.sqlite");
    mkdirSync(ARTIFACTS, { recursive: true });
    server = await startHostileServer();
    const http = await runCli([
      "bench",
      "--url",
      server.url,
      "--model",
      hostileModel,
      "--tag",
      hostileTag,
      "-n",
      "12",
      "-c",
      "2",
      "--db",
      db,
      "--no-force-fields",
    ]);
    assert.equal(http.code === 0 || http.code === 1, true, http.stderr);
    const embedded = await runCli([
      "bench",
      "--db",
      db,
      "--pp",
      "32",
      "--tg",
      "16",
      "--repetitions",
      "3",
      "-n",
      "8",
      "-c",
      "2",
      "--max-tokens",
      "16",
      "--prompt-tokens",
      "16",
      "--tag",
      "embedded",
    ]);
    assert.equal(embedded.code, 0, embedded.stderr);
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const open = (file: string, screenshot: string) => openReport(file, screenshot);

  it("a run's report loads offline with no error and no request, draws every chart, and runs none of the injected script", async () => {
    const out = join(dir, "run.html");
    const r = await runCli(["report", "last", "--out", out, "--db", db]);
    assert.equal(r.code, 0, r.stderr);
    const hostile = await runCli(["runs", "--db", db, "--tag", hostileTag, "--json"]);
    const id = (JSON.parse(hostile.stdout) as { runs: { run_id: string }[] }).runs[0]?.run_id as string;
    const hostileOut = join(dir, "hostile.html");
    assert.equal((await runCli(["report", id, "--out", hostileOut, "--db", db])).code, 0);

    for (const [file, shot] of [
      [out, "report-embedded.png"],
      [hostileOut, "report-hostile.png"],
    ] as const) {
      const page = await open(file, shot);
      assert.deepEqual(page.problems, [], file);
      assert.deepEqual(page.requests, [], `${file}: the page asked for nothing`);
      assert.ok(page.charts.length >= 5, `${page.charts.length} charts`);
      for (const c of page.charts) {
        assert.equal(c.drawn, "1", `${c.id} drawn`);
        assert.ok(c.painted > 500, `${c.id}: ${c.painted} painted pixels`);
      }
      assert.equal(page.pwned, null, "no injected script ran");
      process.stderr.write(
        `${shot}: ${page.charts.length} charts, rendered in ${page.renderMs.toFixed(0)} ms; screenshot in ${ARTIFACTS}\n`,
      );
    }
    // The markup is shown, as text.
    const hostilePage = await open(hostileOut, "report-hostile.png");
    assert.ok(hostilePage.text.includes(hostileModel), "the model name is shown as text");
    assert.ok(hostilePage.text.includes(hostileTag), "the tag is shown as text");
    // The server's error body is quoted in the message (as JSON), so its script element is shown whole.
    assert.ok(
      hostilePage.text.includes("<script>window.__pwned='error'</script>"),
      "the server's error message is shown as text",
    );
    const html = readFileSync(hostileOut, "utf8");
    for (const raw of [HOSTILE_SCRIPT, hostileModel, hostileTag, "<script>window.__pwned", "<img src=x"]) {
      assert.ok(!html.includes(raw), `no raw ${raw} in the file`);
    }
    assert.ok(HOSTILE_ERROR.includes("<img"));
  });

  it("a report of several runs shows their comparison; --png writes every chart", async () => {
    const out = join(dir, "two.html");
    const pngs = join(dir, "png");
    const list = await runCli(["runs", "--db", db, "--json"]);
    const ids = (JSON.parse(list.stdout) as { runs: { run_id: string }[] }).runs.map((x) => x.run_id);
    const r = await runCli(["report", ...ids, "--out", out, "--png", pngs, "--db", db]);
    assert.equal(r.code, 0, r.stderr);
    const page = await open(out, "report-comparison.png");
    assert.deepEqual(page.problems, []);
    assert.deepEqual(page.requests, []);
    assert.ok(page.charts.some((c) => c.id === "comparison"));
    assert.match(page.text, /Differences besides the results/);
    const files = readdirSync(pngs);
    assert.equal(files.length, page.charts.length);
    for (const f of files) {
      const bytes = readFileSync(join(pngs, f));
      assert.equal(bytes.subarray(1, 4).toString(), "PNG", f);
      assert.ok(statSync(join(pngs, f)).size > 1000, f);
    }
  });
});
