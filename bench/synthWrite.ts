/*
 * Synth write speed: writes a Llama-3.2-1B-shaped Q4_0 file to a temp dir, prints MB/s and the
 * process's peak RSS (bounded memory means the peak stays far below the file size), then deletes it.
 * The machine's load average is printed too: on a shared machine it explains most of the spread.
 * Usage: node dist/bench/synthWrite.js [preset] [type] [threads]   (threads: default = synth's own)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { findPreset, listPresets } from "../src/synth/presets.js";
import { synthesizeModel } from "../src/synth/synthesizeModel.js";
import { SYNTH_TYPES, type SynthType } from "../src/synth/synthTypes.js";
import { parseBenchArgs, refuse } from "./benchArgs.js";

const { positionals } = parseBenchArgs({ script: import.meta.url, options: {}, positionals: 3 });
const preset = positionals[0] ?? "llama-3.2-1b";
const type = (positionals[1] ?? "q4_0") as SynthType;
if (findPreset(preset) === undefined) {
  refuse(
    `unknown preset "${preset}" (known: ${listPresets()
      .map((p) => p.name)
      .join(", ")})`,
  );
}
if (!SYNTH_TYPES.includes(type)) refuse(`unknown type "${type}" (known: ${SYNTH_TYPES.join(", ")})`);
const threads = positionals[2] === undefined ? undefined : Number(positionals[2]);
if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
  refuse(`threads must be a positive integer (got "${positionals[2]}")`);
}
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
const dir = await mkdtemp(join(tmpdir(), "tokbench-bench-synth-"));
try {
  const loadBefore = load();
  const rssBefore = process.resourceUsage().maxRSS * 1024;
  const start = performance.now();
  const r = await synthesizeModel({
    preset,
    type,
    out: join(dir, "model.gguf"),
    ...(threads === undefined ? {} : { threads }),
  });
  const seconds = (performance.now() - start) / 1000;
  const peak = process.resourceUsage().maxRSS * 1024;
  console.log(`preset ${preset} ${type}: ${r.parameters.toLocaleString("en-US")} parameters`);
  console.log(`threads         ${threads ?? `default (${availableParallelism()} cores)`}`);
  console.log(`load average    ${loadBefore} before, ${load()} after (${availableParallelism()} cores)`);
  console.log(`file            ${(r.bytes / 1e6).toFixed(1)} MB`);
  console.log(`time            ${seconds.toFixed(2)} s`);
  console.log(`write speed     ${(r.bytes / 1e6 / seconds).toFixed(1)} MB/s`);
  console.log(`params/s        ${(r.parameters / 1e6 / seconds).toFixed(1)} M/s`);
  console.log(
    `peak RSS        ${(peak / 2 ** 20).toFixed(0)} MiB (before: ${(rssBefore / 2 ** 20).toFixed(0)} MiB)`,
  );
  console.log(`peak RSS / file ${((peak / r.bytes) * 100).toFixed(1)} %`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
