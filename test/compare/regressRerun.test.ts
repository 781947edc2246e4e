/**
 * `tokbench regress --rerun` end to end: a baseline measured on the embedded engine (a synthetic
 * tiny GGUF) and one against the mock server on loopback, each re-run from its stored
 * configuration, stored and judged; and the refusals (exit 2) when a baseline cannot be re-run.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RegressionReport } from "../../src/compare/judgeRegression.js";
import { MockServer } from "../../src/mock/MockServer.js";
import { synthesizeModel } from "../../src/synth/synthesizeModel.js";
import { runCli } from "../cli/runCli.js";

interface StoredJson {
  run_id: string;
  config: Record<string, unknown>;
}

describe("tokbench regress --rerun (CLI, real SQLite)", () => {
  let dir: string;
  let db: string;
  let model: string;
  let mock: MockServer;
  let url: string;
  const cli = (...args: string[]) => runCli([...args, "--db", db]);
  const show = async (id: string): Promise<StoredJson> =>
    JSON.parse((await cli("show", id, "--json")).stdout);
  const tagged = async (tag: string): Promise<string[]> =>
    (
      JSON.parse((await cli("runs", "--tag", tag, "--json")).stdout) as { runs: { run_id: string }[] }
    ).runs.map((r) => r.run_id);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "tokbench-rerun-"));
    db = join(dir, "runs.sqlite");
    model = join(dir, "tiny.gguf");
    await synthesizeModel({ preset: "tiny", type: "q4_0", out: model });
    mock = new MockServer({ ttftMs: 3, itlMs: 1, timings: true });
    url = await mock.start();
  });
  after(async () => {
    await mock.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("embedded: re-runs the accepted baseline's tests, knobs and repetitions, stores the run and judges it", async () => {
    const base = await cli(
      "bench",
      "--model",
      model,
      "--tg",
      "16",
      "--pp",
      "32",
      "-r",
      "3",
      "--threads",
      "1",
      "--no-progress",
    );
    assert.equal(base.code, 0, base.stderr);
    const baselineId = (await show("last")).run_id;
    assert.equal((await cli("accept", baselineId)).code, 0);
    const r = await cli("regress", "--baseline", "accepted", "--rerun", "--format", "json");
    const report = JSON.parse(r.stdout) as RegressionReport;
    // A verdict on the new run: 0 or 1 (a tiny model's speed on a shared machine may move), or 2 only
    // because a loaded machine left fewer steady repetitions than the test needs, never an error.
    const detail = `${r.stderr}\n${r.stdout}`;
    if (report.exit_code === 2)
      assert.ok(
        report.findings.some(
          (f) => f.status === "cannot judge" && /too few repetitions/.test(f.reason ?? ""),
        ),
        detail,
      );
    else assert.ok(report.exit_code === 0 || report.exit_code === 1, detail);
    assert.equal(r.code, report.exit_code);
    assert.equal(report.baseline_run_id, baselineId);
    assert.notEqual(report.current_run_id, baselineId);
    assert.ok(
      report.findings.some((f) => /tg16/.test(f.row)),
      JSON.stringify(report.findings),
    );
    assert.deepEqual(await tagged(`rerun-of:${baselineId.slice(0, 8)}`), [report.current_run_id]);
    const [a, b] = [await show(baselineId), await show(report.current_run_id)];
    for (const key of ["target", "model", "tests", "repetitions", "knobs"])
      assert.deepEqual(b.config[key], a.config[key], key);
    assert.match(
      r.stderr,
      /re-running baseline .* tokbench bench --model .*tiny\.gguf --pp 32 --tg 16 --repetitions 3 --threads 1/,
    );
  });

  it("server: re-runs the same load and workload against the same URL; --current is refused beside --rerun", async () => {
    const base = await cli(
      "bench",
      "--url",
      url,
      "--model",
      "m",
      // Enough requests to bracket a p95 (about 120), or the judgment is "cannot judge".
      "-n",
      "150",
      "-c",
      "3",
      "--prompt-tokens",
      "20",
      "--max-tokens",
      "12",
      "--seed",
      "7",
      "--no-progress",
    );
    assert.equal(base.code, 0, base.stderr);
    const baselineId = (await show("last")).run_id;
    const r = await cli("regress", "--baseline", baselineId.slice(0, 8), "--rerun", "--format", "json");
    const report = JSON.parse(r.stdout) as RegressionReport;
    assert.ok(report.exit_code === 0 || report.exit_code === 1, `${r.stderr}\n${r.stdout}`);
    assert.equal(report.baseline_run_id, baselineId);
    const [a, b] = [await show(baselineId), await show(report.current_run_id)];
    for (const key of ["target", "url", "model", "api", "load", "workload"])
      assert.deepEqual(b.config[key], a.config[key], key);
    assert.ok(report.findings.some((f) => /TTFT|inter-token|time to first/i.test(`${f.rule} ${f.row}`)));

    const both = await cli("regress", "--baseline", baselineId, "--rerun", "--current", "last");
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--rerun measures the run it judges: give --baseline, not --current/);
  });

  it("exit 2 with one line when the baseline cannot be re-run: server gone, model file gone, headers not kept", async () => {
    const runs = JSON.parse((await cli("runs", "--json")).stdout) as {
      runs: { run_id: string; target_kind: string; tags: string[] }[];
    };
    const httpBase = runs.runs.find((x) => x.target_kind !== "embedded" && x.tags.length === 0)
      ?.run_id as string;
    const embeddedBase = runs.runs.find((x) => x.target_kind === "embedded" && x.tags.length === 0)
      ?.run_id as string;
    const before = runs.runs.length;

    // A server that no longer answers: the re-run's own error, quoted.
    const gone = new MockServer({ ttftMs: 1, itlMs: 1 });
    const goneUrl = await gone.start();
    assert.equal(
      (await cli("bench", "--url", goneUrl, "--model", "m", "-n", "4", "--no-progress", "--tag", "gone"))
        .code,
      0,
    );
    await gone.close();
    const goneId = (await tagged("gone"))[0] as string;
    const unreachable = await cli("regress", "--baseline", goneId, "--rerun");
    assert.equal(unreachable.code, 2, unreachable.stderr);
    assert.match(
      unreachable.stderr,
      /tokbench regress: cannot judge: baseline .* cannot be re-run: the re-run failed: no answer from GET .* \[BASELINE_NOT_RERUNNABLE\]/,
    );

    // Headers: their values are not stored, so the run cannot be repeated as it was.
    assert.equal(
      (
        await cli(
          "bench",
          "--url",
          url,
          "--model",
          "m",
          "-n",
          "4",
          "--header",
          "X-Team: a",
          "--no-progress",
          "--tag",
          "hdr",
        )
      ).code,
      0,
    );
    const header = await cli("regress", "--baseline", (await tagged("hdr"))[0] as string, "--rerun");
    assert.equal(header.code, 2);
    assert.match(
      header.stderr,
      /cannot be re-run: it sent headers \(x-team|X-Team\) whose values tokbench does not keep/i,
    );

    // The model file is gone.
    await rm(model);
    const noModel = await cli("regress", "--baseline", embeddedBase, "--rerun");
    assert.equal(noModel.code, 2);
    assert.match(
      noModel.stderr,
      /cannot be re-run: its model file .*tiny\.gguf is gone \[BASELINE_NOT_RERUNNABLE\]/,
    );
    assert.ok(httpBase !== undefined);
    // Nothing was stored by the refusals (the unreachable re-run stopped before its run began).
    const after = JSON.parse((await cli("runs", "--json")).stdout) as { runs: unknown[] };
    assert.equal(after.runs.length, before + 2, "only the two baselines made for this test");
  });
});
