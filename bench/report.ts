/**
 * Size and speed of `tokbench report` for a long run.
 *
 *   node dist/bench/report.js [--requests 100000] [--repeats 3]
 *
 * Stores one finished run of `--requests` requests (with its distributions and resource series, as
 * a real run stores them), then measures: the report's size (target <= 3 MB), the time to generate
 * it (`tokbench report` end to end, process start included, and the in-process part: reading the
 * run, one pass over its requests, rendering; target < 5 s), and the time headless Chromium takes
 * from opening the file to every chart drawn (target < 2 s). Medians of `--repeats`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { renderReportHtml } from "../src/output/html/renderReportHtml.js";
import { collectReportData } from "../src/report/collectReportData.js";
import { median } from "../src/stats/descriptive.js";
import { RunStore } from "../src/storage/RunStore.js";
import { collectMachineInfo } from "../src/system/machineInfo.js";
import { parseBenchArgs } from "./benchArgs.js";
import { syntheticRun } from "./syntheticRun.js";
import { timeReportRender } from "./timeReportRender.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["requests", "repeats"],
  options: { requests: { type: "string", default: "100000" }, repeats: { type: "string", default: "3" } },
});
const requests = Number(values.requests);
const repeats = Number(values.repeats);
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tokbench-report-bench-"));
const db = join(dir, "runs.sqlite");
const out = join(dir, "report.html");
{
  const store = RunStore.open(db);
  store.finishRun(syntheticRun(await collectMachineInfo(), "long-run", new Date().toISOString(), requests));
  store.close();
}
const inProcess: number[] = [];
for (let i = 0; i < repeats; i++) {
  const store = RunStore.open(db);
  const start = performance.now();
  renderReportHtml(await collectReportData(store.history(), ["long-run"]));
  inProcess.push(performance.now() - start);
  store.close();
}
const cli: number[] = [];
for (let i = 0; i < repeats; i++) {
  const start = performance.now();
  const r = spawnSync(process.execPath, [CLI, "report", "long-run", "--out", out, "--db", db]);
  if (r.status !== 0) throw new Error(r.stderr.toString());
  cli.push(performance.now() - start);
}
const size = statSync(out).size;
const { ms: render, charts } = await timeReportRender(out, repeats);
console.log(`report of a ${requests.toLocaleString("en-US")}-request run:`);
console.log(`  size ${(size / 2 ** 20).toFixed(2)} MiB (${size} bytes; target <= 3 MB)`);
console.log(
  `  generated in ${(median(inProcess) / 1000).toFixed(2)} s in-process, ${(median(cli) / 1000).toFixed(2)} s by \`tokbench report\` with process start (medians of ${repeats}; target < 5 s)`,
);
console.log(
  `  rendered by headless Chromium, open to ${charts} charts drawn: ${(median(render) / 1000).toFixed(2)} s (median of ${repeats}; target < 2 s)`,
);
rmSync(dir, { recursive: true, force: true });
