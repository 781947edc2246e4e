/**
 * The landscape a sweep or a tuner meets on the simulated server (`tokbench mock --simulate`):
 * a grid of llama-server knobs run in virtual time against one workload, printed as the best and
 * default configurations, each knob's effect with the others at their defaults, the out-of-memory
 * region and how flat the top is. The figures are the simulation's (a test double), not a machine's.
 *
 *   node dist/bench/simulatedLandscape.js [--noise 0.1] [--seeds 3]
 */
import { performance } from "node:perf_hooks";
import type { SimKvType, SimulationOptions } from "../src/mock/simulation/SimulationConfig.js";
import { simulateClosedLoop } from "../src/mock/simulation/simulateClosedLoop.js";
import { median } from "../src/stats/descriptive.js";
import { parseBenchArgs } from "./benchArgs.js";

const { values } = parseBenchArgs({
  script: import.meta.url,
  options: { noise: { type: "string", default: "0.1" }, seeds: { type: "string", default: "3" } },
  numeric: ["noise", "seeds"],
});
const noise = Number(values.noise);
const seeds = Number(values.seeds);

const machine: SimulationOptions = { cores: 8, memoryBudgetMiB: 1200, seqBufferMiB: 40, noise };
const workload = { requests: 16, concurrency: 4, promptTokens: 1024, maxTokens: 64 };
const axes = {
  threads: [2, 4, 8, 12, 16],
  batchSize: [256, 512, 1024, 2048, 4096],
  ubatchSize: [128, 256, 512],
  parallel: [1, 2, 4, 8],
  ctxSize: [8192, 32768, 65536, 131072],
  kv: ["f16", "q8_0"] as SimKvType[],
};
const defaults = {
  threads: 8,
  batchSize: 2048,
  ubatchSize: 512,
  parallel: 1,
  ctxSize: 8192,
  kv: "f16" as SimKvType,
};
type Point = typeof defaults;

function measure(p: Point): { status: string; tps: number; ttftP50: number; spread: number } {
  const runs = Array.from({ length: seeds }, (_, seed) =>
    simulateClosedLoop(
      {
        ...machine,
        seed: seed + 1,
        threads: p.threads,
        batchSize: p.batchSize,
        ubatchSize: p.ubatchSize,
        parallel: p.parallel,
        ctxSize: p.ctxSize,
        cacheTypeK: p.kv,
        cacheTypeV: p.kv,
      },
      workload,
    ),
  );
  const failed = runs.find((r) => r.status !== "ok");
  if (failed !== undefined) return { status: failed.status, tps: 0, ttftP50: Number.NaN, spread: 0 };
  // Prompts longer than a slot's context (too many slots for the context) get HTTP 400.
  if (runs.some((r) => r.failed > 0)) return { status: "http_400", tps: 0, ttftP50: Number.NaN, spread: 0 };
  const tps = runs.map((r) => r.output_tokens_per_s);
  return {
    status: "ok",
    tps: median(tps),
    ttftP50: median(runs.map((r) => median(r.ttft_ms))),
    spread: (Math.max(...tps) - Math.min(...tps)) / median(tps),
  };
}

const started = performance.now();
const grid: ({ point: Point } & ReturnType<typeof measure>)[] = [];
for (const threads of axes.threads)
  for (const batchSize of axes.batchSize)
    for (const ubatchSize of axes.ubatchSize)
      for (const parallel of axes.parallel)
        for (const ctxSize of axes.ctxSize)
          for (const kv of axes.kv) {
            const point = { threads, batchSize, ubatchSize, parallel, ctxSize, kv };
            grid.push({ point, ...measure(point) });
          }
const elapsed = performance.now() - started;

const ok = grid.filter((g) => g.status === "ok");
const best = ok.reduce((a, b) => (b.tps > a.tps ? b : a));
const base = measure(defaults);
const fmt = (p: Point) =>
  `t=${p.threads} b=${p.batchSize} ub=${p.ubatchSize} np=${p.parallel} c=${p.ctxSize} kv=${p.kv}`;
console.log(
  `simulated landscape (a test double's figures): ${grid.length} configurations x ${seeds} seeds, noise ${noise}, in ${(elapsed / 1000).toFixed(1)} s`,
);
console.log(
  `workload: concurrency ${workload.concurrency}, ${workload.requests} requests, prompt ${workload.promptTokens}, output ${workload.maxTokens}; machine: 8 cores, 1200 MiB, 40 MiB per active sequence`,
);
const counts = new Map<string, number>();
for (const g of grid) counts.set(g.status, (counts.get(g.status) ?? 0) + 1);
console.log(`statuses: ${[...counts].map(([s, n]) => `${s} ${n}`).join(", ")}`);
console.log(
  `best:     ${fmt(best.point)}  ${best.tps.toFixed(1)} tok/s, TTFT p50 ${best.ttftP50.toFixed(0)} ms`,
);
console.log(
  `replicates (seeds) differ by ${(100 * median(ok.map((g) => g.spread))).toFixed(1)} % (median of (max - min) / median), ${(100 * Math.max(...ok.map((g) => g.spread))).toFixed(1)} % at most`,
);
console.log(
  `defaults: ${fmt(defaults)}  ${base.tps.toFixed(1)} tok/s (${((100 * base.tps) / best.tps).toFixed(1)} % of best)`,
);
for (const share of [0.99, 0.97, 0.95, 0.9]) {
  const n = ok.filter((g) => g.tps >= share * best.tps).length;
  console.log(
    `within ${((1 - share) * 100).toFixed(0)} % of best: ${n} configurations (${((100 * n) / grid.length).toFixed(1)} % of the grid)`,
  );
}
console.log("each knob with the others at the defaults (output tok/s, or the failure):");
for (const [axis, values] of Object.entries(axes) as [keyof Point, (number | string)[]][]) {
  const cells = values.map((v) => {
    const r = measure({ ...defaults, [axis]: v } as Point);
    return `${v}: ${r.status === "ok" ? r.tps.toFixed(1) : r.status}`;
  });
  console.log(`  ${axis.padEnd(10)} ${cells.join("  ")}`);
}
