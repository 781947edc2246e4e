import type { ExpertUsage, LayerTiming, ObservationInfo } from "../../results/Observation.js";
import type { RunResult } from "../../results/RunResult.js";
import { createTable } from "../createTable.js";

/** Heat characters, coldest first, and the count / uniform-expectation ratio each starts at. */
const RAMP = [" ", ".", ":", "-", "=", "+", "*", "#", "%", "@"] as const;
const RAMP_FROM = [0, Number.MIN_VALUE, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4] as const;
/** Experts per heat-table line. */
const HEAT_WIDTH = 64;

const pct = (x: number | null, digits = 1): string => (x === null ? "-" : `${x.toFixed(digits)} %`);
const ms = (x: number | null, digits = 3): string => (x === null ? "-" : x.toFixed(digits));
const int = (x: number): string => Math.round(x).toLocaleString("en-US");

/**
 * The terminal view of an observation run: a banner saying it is no speed measurement, the expert
 * heat table with hot and cold experts and the llama.cpp placement, and per-layer times. Empty for
 * a run that observed nothing.
 */
export function renderObservation(result: RunResult): string {
  const info = result.observation;
  if (info === undefined) return "";
  const out: string[] = [banner(info)];
  if (result.expert_usage !== undefined) out.push(renderExpertUsage(result.expert_usage));
  for (const t of result.layer_timing ?? []) out.push(renderLayerTiming(t));
  const overhead = info.overhead
    .map(
      (o) =>
        `${o.test} ${o.phase} ${pct(o.overhead_pct)} wall (${ms(o.observed_decode_ms_mean)} vs ${ms(o.unobserved_decode_ms_mean)} ms), ` +
        `${pct(o.overhead_cpu_pct)} CPU (${ms(o.observed_cpu_ms_mean)} vs ${ms(o.unobserved_cpu_ms_mean)} ms)`,
    )
    .join("; ");
  if (overhead !== "") {
    out.push(
      `observation overhead per llama_decode, median of paired steps (observed vs unobserved means): ${overhead}`,
    );
  }
  for (const w of info.warnings) out.push(`warning: ${w}`);
  return out.join("\n\n");
}

function banner(info: ObservationInfo): string {
  const s = info.settings;
  return (
    `observation run (${info.kinds.join(", ")}): where a step's time and tokens go, not a speed measurement ` +
    `(threads ${String(s.n_threads)}, batch ${String(s.n_ubatch)}, ${info.repetitions} observed generations per test)`
  );
}

/** The heat character of a count against the layer's uniform expectation. */
export function heatChar(count: number, uniform: number): string {
  const ratio = uniform > 0 ? count / uniform : 0;
  let i = 0;
  while (i + 1 < RAMP.length && ratio >= (RAMP_FROM[i + 1] as number)) i++;
  return RAMP[i] as string;
}

function renderExpertUsage(u: ExpertUsage): string {
  const lines: string[] = [];
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  const generated = sum(u.layers.map((l) => sum(l.generated_counts)));
  const expected = u.layers.length * u.generated_tokens * u.n_expert_used;
  lines.push(
    `expert usage: ${u.n_expert} experts, ${u.n_expert_used} per token, ${u.layers.length} of ${u.n_moe_layers} MoE layers counted; ` +
      `${int(u.prompt_tokens)} prompt + ${int(u.generated_tokens)} generated tokens, ${int(u.total_selections)} selections`,
  );
  lines.push(
    `generated tokens: ${int(generated)} selections ${generated === expected ? "=" : "!="} ${u.layers.length} layers x ${int(u.generated_tokens)} tokens x ${u.n_expert_used} experts` +
      (u.prompt_tokens > 0
        ? "; prompt tokens: all layers but the last, which routes one token per batch"
        : ""),
  );
  lines.push(
    `heat per layer, one column per expert, count vs the uniform share: ' ' never  . <0.25x  : <0.5x  - <0.75x  = <1x  + <1.5x  * <2x  # <3x  % <4x  @ >=4x`,
  );
  const labelWidth = String(Math.max(...u.layers.map((l) => l.layer), 0)).length;
  for (let from = 0; from < u.n_expert; from += HEAT_WIDTH) {
    const to = Math.min(u.n_expert, from + HEAT_WIDTH);
    if (u.n_expert > HEAT_WIDTH) lines.push(`experts ${from}-${to - 1}`);
    for (const l of u.layers) {
      const uniform = l.selections / u.n_expert;
      const cells = l.counts.slice(from, to).map((c) => heatChar(c, uniform));
      lines.push(
        `L${String(l.layer).padStart(labelWidth)} |${cells.join("")}| 80 % in ${l.experts_for_80pct}`,
      );
    }
  }
  const rank = (r: ExpertUsage["hot"][number]) =>
    `L${r.layer} E${r.expert}: ${int(r.count)} (${r.share_pct.toFixed(1)} %, ${r.vs_uniform.toFixed(2)}x)`;
  lines.push(`hot:  ${u.hot.map(rank).join("; ")}`);
  lines.push(`cold: ${u.cold.map(rank).join("; ")}`);
  if (u.override_tensor !== null) {
    lines.push(
      `llama.cpp CPU/GPU split (experts of the ${u.override_tensor.cpu_layers.length} most concentrated layers on the CPU):`,
    );
    lines.push(`  ${u.override_tensor.argument}`);
    lines.push(`  layers most concentrated first: ${u.override_tensor.cpu_first.join(",")}`);
    lines.push(`  ${u.override_tensor.note}`);
  }
  return lines.join("\n");
}

function renderLayerTiming(t: LayerTiming): string {
  const head =
    `layer timing, ${t.test} ${t.phase}: ${t.steps} steps of ${t.tokens_per_step.toFixed(0)} token(s); ` +
    `llama_decode ${ms(t.decode_ms_mean)} ms observed, step ${ms(t.step_ms_mean)} ms vs ${ms(t.unobserved_step_ms_mean)} ms unobserved ` +
    `(overhead ${pct(t.overhead_pct)} wall, ${pct(t.overhead_cpu_pct)} CPU; ${t.syncs_per_step.toFixed(0)} syncs/step)`;
  const table = createTable({ head: ["layer", "ms mean", "ms p95", "share"], style: { compact: true } });
  for (const l of t.layers) table.push([String(l.layer), ms(l.ms_mean), ms(l.ms_p95), pct(l.share_pct)]);
  const share = (x: number) => pct(t.decode_ms_mean > 0 ? (100 * x) / t.decode_ms_mean : null);
  table.push(["input", ms(t.input_ms), "", share(t.input_ms)]);
  table.push(["output", ms(t.output_ms), "", share(t.output_ms)]);
  table.push(["observer", ms(t.observer_ms), "", share(t.observer_ms)]);
  return `${head}\n${table.toString()}`;
}
