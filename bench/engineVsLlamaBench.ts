/**
 * In-process decode/prefill speed versus llama-bench on the same GGUF and thread counts.
 *
 *   export LLAMA_BENCH="$(scripts/build-llama-bench.sh | tail -n 1)"   # optional reference
 *   node dist/bench/engineVsLlamaBench.js [--model file.gguf] [--pp 64] [--tg 32] [--threads 1,2]
 *        [--repetitions 3] [--rounds 2] [--builds prebuilt,native,tuned] [--path tokbench|loop]
 *        [--tg-mode direct|controlled|generator] [--json]
 *
 * --path tokbench (default) measures with runLlamaBench, the code behind `tokbench bench --model
 * --pp --tg` (its tests[] rows); --path loop measures with the bare runPpTgBenchmark loop in the
 * chosen --tg-mode, to compare node-llama-cpp's own calls.
 *
 * Variants: prebuilt = node-llama-cpp's shipped binary; native = the tuned build (tokbench engine build);
 * tuned = the tuned build in a process started with ENGINE_PROCESS_ENV (UV_THREADPOOL_SIZE=1).
 *
 * Without --model, a qwen2.5-0.5b-shaped Q4_0 model (494M parameters) is synthesized once into the
 * user cache. Each round runs llama-bench, then each in-process build in its own child process
 * (interleaved A/B, so load from other processes hits every side alike); the table shows the
 * median over rounds of each side's avg_ts and the ratio in-process / llama-bench.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import envPaths from "env-paths";
import { ENGINE_PROCESS_ENV } from "../src/engine/native/engineProcessEnv.js";
import { median } from "../src/stats/descriptive.js";
import { parseBenchArgs } from "./benchArgs.js";
import type { LlamaBenchRow } from "./engine/runLlamaBenchBinary.js";
import { llamaBenchArgs, runLlamaBenchBinary } from "./engine/runLlamaBenchBinary.js";
import type { PpTgBenchmarkResult, TgMode } from "./engine/runPpTgBenchmark.js";

/** prebuilt / native: the binary alone; tuned: the native build in a process started with ENGINE_PROCESS_ENV. */
type Variant = "prebuilt" | "native" | "tuned";
type Build = "prebuilt" | "native";

interface ChildResult {
  build: Variant;
  actualBuild: Build;
  systemInfo: string;
  results: Array<{ threads: number } & PpTgBenchmarkResult>;
}

const { values } = parseBenchArgs({
  script: import.meta.url,
  numeric: ["pp", "tg", "threads", "repetitions", "rounds"],
  options: {
    model: { type: "string" },
    pp: { type: "string", default: "64" },
    tg: { type: "string", default: "32" },
    threads: { type: "string", default: "1,2" },
    repetitions: { type: "string", default: "3" },
    rounds: { type: "string", default: "2" },
    builds: { type: "string", default: "prebuilt,native,tuned" },
    "tg-mode": { type: "string", default: "direct" },
    path: { type: "string", default: "tokbench" },
    json: { type: "boolean", default: false },
    child: { type: "string" },
  },
});

const nPrompt = Number(values.pp);
const nGen = Number(values.tg);
const threadList = (values.threads ?? "1,2").split(",").map(Number);
const repetitions = Number(values.repetitions);
const tgMode = values["tg-mode"] as TgMode;
const path = values.path === "loop" ? "loop" : "tokbench";

if (values.child !== undefined) {
  await runChild(values.child as Variant, values.model as string);
} else {
  await main();
}

/** Runs the in-process measurement for one build and prints one JSON line. */
async function runChild(variant: Variant, model: string): Promise<void> {
  const { getTunedLlama } = await import("../src/engine/native/getTunedLlama.js");
  const { runPpTgBenchmark } = await import("./engine/runPpTgBenchmark.js");
  const build: Build = variant === "prebuilt" ? "prebuilt" : "native";
  const tuned = await getTunedLlama({ build, gpu: false, logLevel: "error" });
  const results: ChildResult["results"] = [];
  if (path === "tokbench") {
    const { EngineBinding } = await import("../src/engine/EngineBinding.js");
    const { runLlamaBench } = await import("../src/engine/runLlamaBench.js");
    for (const threads of threadList) {
      const bench = await runLlamaBench({
        model_path: model,
        binding: EngineBinding.fromLlama(tuned.llama),
        knobs: {
          threads: [threads],
          batch_size: [2048],
          ubatch_size: [512],
          ctx_size: [null],
          gpu_layers: [{ layers: 0 }],
          flash_attn: ["auto"],
          type_k: ["f16"],
          type_v: ["f16"],
          parallel: [1],
        },
        plan: { pp: nPrompt > 0 ? [nPrompt] : [], tg: nGen > 0 ? [nGen] : [], pg: [], depth: [0] },
        repetitions,
        measure_load: false,
      });
      const asTest = (row: (typeof bench.rows)[number] | undefined) =>
        row === undefined || row.status !== "ok" || row.avg_ts === null
          ? null
          : {
              n_prompt: row.n_prompt,
              n_gen: row.n_gen,
              n_threads: row.n_threads,
              n_batch: row.n_batch,
              avg_ts: row.avg_ts,
              stddev_ts: row.stddev_ts ?? 0,
              samples_ts: row.samples_ts,
              samples_ns: row.samples_ns,
            };
      results.push({
        threads,
        pp: asTest(bench.rows.find((r) => r.n_prompt > 0)),
        tg: asTest(bench.rows.find((r) => r.n_prompt === 0)),
        tg_mode: bench.rows[0]?.decode_loop === "direct" ? "direct" : "generator",
      });
    }
  } else {
    const loaded = await tuned.llama.loadModel({ modelPath: model, gpuLayers: 0 });
    for (const threads of threadList) {
      const result = await runPpTgBenchmark(loaded, { nPrompt, nGen, threads, repetitions, tgMode });
      results.push({ threads, ...result });
    }
    await loaded.dispose();
  }
  await tuned.llama.dispose();
  const out: ChildResult = {
    build: variant,
    actualBuild: tuned.build,
    systemInfo: tuned.systemInfo,
    results,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

async function main(): Promise<void> {
  const model = values.model ?? (await defaultModel());
  const llamaBench = process.env.LLAMA_BENCH;
  const builds = (values.builds ?? "prebuilt").split(",") as Variant[];
  const rounds = Number(values.rounds);
  const self = fileURLToPath(import.meta.url);
  process.stderr.write(
    `model ${model}\ncpus ${cpus().length} x ${cpus()[0]?.model ?? "?"}, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}\n`,
  );
  if (!llamaBench) process.stderr.write("LLAMA_BENCH is not set: printing in-process figures only\n");

  // samples[side][test][threads] = avg_ts per round
  const samples = new Map<string, Map<string, number[]>>();
  const add = (side: string, key: string, value: number) => {
    const bySide = samples.get(side) ?? new Map<string, number[]>();
    samples.set(side, bySide);
    bySide.set(key, [...(bySide.get(key) ?? []), value]);
  };
  const notes: string[] = [];
  for (let round = 0; round < rounds; round++) {
    if (llamaBench) {
      const args = { model, nPrompt: [nPrompt], nGen: [nGen], threads: threadList, repetitions };
      if (round === 0) notes.push(`llama-bench ${llamaBenchArgs(args).join(" ")}`);
      const rows: LlamaBenchRow[] = await runLlamaBenchBinary(llamaBench, args);
      for (const row of rows) add("llama-bench", testKey(row.n_prompt, row.n_gen, row.n_threads), row.avg_ts);
      if (round === 0 && rows[0])
        notes.push(`llama-bench build ${rows[0].build_commit}, ${rows[0].cpu_info}`);
    }
    for (const build of builds) {
      const child = await runChildProcess(self, build, model);
      if (child.actualBuild !== (build === "prebuilt" ? "prebuilt" : "native")) {
        notes.push(`${build}: not available, skipped (run tokbench engine build)`);
        continue;
      }
      if (round === 0)
        notes.push(`${build}: ${path} path, ${child.results[0]?.tg_mode} loop; ${child.systemInfo.trim()}`);
      for (const r of child.results) {
        if (r.pp) add(build, testKey(nPrompt, 0, r.threads), r.pp.avg_ts);
        if (r.tg) add(build, testKey(0, nGen, r.threads), r.tg.avg_ts);
      }
    }
    process.stderr.write(`round ${round + 1}/${rounds} done, load ${loadavg()[0]?.toFixed(2)}\n`);
  }
  printTable(samples, notes);
}

/** Median of the per-round ratios side / reference, rounds paired by position; "-" without pairs. */
function pairedRatio(side: number[], reference: number[] | undefined): string {
  if (reference === undefined || reference.length !== side.length || side.length === 0) return "-";
  return `${median(side.map((v, i) => v / (reference[i] as number))).toFixed(3)}x`;
}

function testKey(nPromptTokens: number, nGenTokens: number, threads: number): string {
  return `${nPromptTokens > 0 ? `pp${nPromptTokens}` : `tg${nGenTokens}`} t=${threads}`;
}

function printTable(samples: Map<string, Map<string, number[]>>, notes: string[]): void {
  const sides = [...samples.keys()];
  const keys = [...new Set(sides.flatMap((side) => [...(samples.get(side)?.keys() ?? [])]))];
  const reference = samples.get("llama-bench");
  if (values.json) {
    const rows = keys.map((key) => ({
      test: key,
      ...Object.fromEntries(
        sides.map((side) => {
          const list = samples.get(side)?.get(key) ?? [];
          const ref = reference?.get(key);
          return [
            side,
            {
              median_ts: list.length ? median(list) : null,
              rounds_ts: list,
              ratio: ref && list.length ? median(list) / median(ref) : null,
              paired_ratio:
                ref && ref.length === list.length && list.length > 0
                  ? median(list.map((v, i) => v / (ref[i] as number)))
                  : null,
            },
          ];
        }),
      ),
    }));
    process.stdout.write(`${JSON.stringify({ notes, rows }, null, 2)}\n`);
    return;
  }
  const header = [
    "test",
    ...sides.flatMap((side) => (side === "llama-bench" || !reference ? [side] : [side, "ratio", "paired"])),
  ];
  const lines = [header];
  for (const key of keys) {
    const line = [key];
    for (const side of sides) {
      const list = samples.get(side)?.get(key) ?? [];
      const value = list.length ? median(list) : Number.NaN;
      const spread =
        list.length > 1 ? ` [${Math.min(...list).toFixed(1)}-${Math.max(...list).toFixed(1)}]` : "";
      line.push(`${value.toFixed(2)}${spread}`);
      if (side !== "llama-bench" && reference) {
        const ref = reference.get(key);
        line.push(ref?.length && list.length ? `${(value / median(ref)).toFixed(3)}x` : "-");
        line.push(pairedRatio(list, ref));
      }
    }
    lines.push(line);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? "").length)));
  const out = lines.map((l) => l.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ")).join("\n");
  process.stdout.write(
    `${out}\n\nt/s = median over rounds of avg_ts [min-max]; ratio = in-process / llama-bench (medians);\n` +
      "paired = median over rounds of (in-process / llama-bench of the same round), which cancels slow drift in the machine's speed\n",
  );
  for (const note of notes) process.stdout.write(`# ${note}\n`);
}

function runChildProcess(self: string, build: Variant, model: string): Promise<ChildResult> {
  const args = [
    self,
    "--child",
    build,
    "--model",
    model,
    "--pp",
    String(nPrompt),
    "--tg",
    String(nGen),
    "--threads",
    threadList.join(","),
    "--repetitions",
    String(repetitions),
    "--tg-mode",
    tgMode,
    "--path",
    path,
  ];
  return new Promise((resolve, reject) => {
    // Children never inherit the parent's own UV_THREADPOOL_SIZE: each variant gets exactly its env.
    const { UV_THREADPOOL_SIZE: _ignored, ...baseEnv } = process.env;
    const env = build === "tuned" ? { ...baseEnv, ...ENGINE_PROCESS_ENV } : baseEnv;
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024, env }, (error, stdout, stderr) => {
      if (error) {
        reject(
          new Error(`in-process ${build} run failed: ${stderr.trim().split("\n").pop() ?? error.message}`),
        );
        return;
      }
      const line = stdout.trim().split("\n").pop() ?? "";
      resolve(JSON.parse(line) as ChildResult);
    });
  });
}

async function defaultModel(): Promise<string> {
  const dir = join(envPaths("tokbench", { suffix: "" }).cache, "models");
  const path = join(dir, "synth-qwen2.5-0.5b-q4_0-seed1.gguf");
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    process.stderr.write(`synthesizing ${path} (once)\n`);
    const { synthesizeModel } = await import("../src/synth/synthesizeModel.js");
    await synthesizeModel({ preset: "qwen2.5-0.5b", type: "q4_0", out: path, seed: 1 });
  }
  return path;
}
