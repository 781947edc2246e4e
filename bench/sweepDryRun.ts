/**
 * How long `tokbench sweep --dry-run` takes for 1,000 cells (target: under a second): the plan
 * (10 contexts x 10 slot counts = 100 configurations, x 10 concurrencies), the memory pre-check
 * of every configuration against a synthetic GGUF, and the printed plan. Measured in-process
 * (what tokbench does after it started) and end to end (a fresh `node` process, start-up included).
 *
 *   npm run build && node dist/bench/sweepDryRun.js
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeAxis } from "../src/search/Axis.js";
import { median } from "../src/stats/descriptive.js";
import { prepareMemoryPrecheck } from "../src/sweep/memoryPrecheck.js";
import { planSweep } from "../src/sweep/planSweep.js";
import { sweepSpec } from "../src/sweep/SweepSpec.js";
import { synthesizeModel } from "../src/synth/synthesizeModel.js";
import { parseBenchArgs } from "./benchArgs.js";

// No flags: --help prints the comment above, anything else is refused.
parseBenchArgs({ script: import.meta.url, options: {} });
const CLI = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "tokbench-dry-run-"));
try {
  const model = join(dir, "tiny.gguf");
  await synthesizeModel({ preset: "tiny", type: "q4_0", out: model });
  const range = (n: number, step: number) => Array.from({ length: n }, (_, i) => (i + 1) * step);
  const spec = sweepSpec({
    provider: "llama-server",
    knob_axes: [
      makeAxis("ctx", range(10, 1024)),
      makeAxis("parallel", range(10, 1)),
      makeAxis("model", [model]),
    ],
    workload: { concurrency: range(10, 1) },
  });

  const inProcess: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const plan = planSweep(spec);
    const precheck = await prepareMemoryPrecheck(spec);
    const verdicts = await Promise.all(plan.configurations.map((c) => precheck.check(c.knobs)));
    const text = JSON.stringify({ plan: plan.cells, verdicts });
    inProcess.push(performance.now() - t0);
    if (plan.cells.length !== 1000 || text.length === 0) throw new Error("the plan is not 1,000 cells");
  }

  const args = [
    CLI,
    "sweep",
    "--server",
    "llama-server",
    "--model-file",
    model,
    "--ctx-size",
    "1024-10240+1024",
    "--parallel",
    "1-10",
    "--concurrency",
    "1-10",
    "--dry-run",
  ];
  const endToEnd: number[] = [];
  const startup: number[] = [];
  for (let i = 0; i < 3; i++) {
    let t0 = performance.now();
    const run = spawnSync(process.execPath, args, { encoding: "utf8" });
    endToEnd.push(performance.now() - t0);
    if (run.status !== 0 || !run.stdout.includes("= 1000 cells"))
      throw new Error(`dry run failed: ${run.stderr}`);
    t0 = performance.now();
    spawnSync(process.execPath, [CLI, "--version"], { encoding: "utf8" });
    startup.push(performance.now() - t0);
  }
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  console.log(
    "sweep --dry-run, 1,000 cells (100 configurations x 10 concurrencies, memory pre-check on a GGUF)",
  );
  console.log(`  in-process (plan + pre-check + plan JSON), median of 5: ${ms(median(inProcess))}`);
  console.log(`  end to end (node process, tokbench sweep --dry-run), median of 3: ${ms(median(endToEnd))}`);
  console.log(
    `  of which node + tokbench start-up (tokbench --version), median of 3: ${ms(median(startup))}`,
  );
  console.log(`  dry run itself (end to end minus start-up): ${ms(median(endToEnd) - median(startup))}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
