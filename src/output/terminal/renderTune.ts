import type { KnobValue, TrialRecord } from "../../results/TuneResult.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { createTable } from "../createTable.js";
import { formatNumber } from "../formatNumber.js";

/** What the terminal report of a tune reads. */
export interface TuneReport {
  tune_id: string;
  exit_reason: string;
  exit_detail: string | null;
  objective_unit: string;
  trials: readonly TrialRecord[];
  max_trials: number;
  best: TrialRecord | null;
  baseline: TrialRecord | null;
  gain: number | null;
  /** The baseline as the last drift anchor measured it; null without an anchor. */
  latest_baseline: TrialRecord | null;
  /** The best's gain over `latest_baseline`; null without an anchor. */
  gain_vs_latest_baseline: number | null;
  tie_band: number;
  max_drift: number;
  anchors: number;
  configurations_measured: number;
  grid_size: number;
  rejected: { model: string; verdict: string; reason: string }[];
  not_measured: string[];
  chosen_model: string | null;
  command: string | null;
  bench_command: string | null;
  recipe_hash: string;
}

function name(value: KnobValue): string {
  const text = String(value);
  return text.split("/").pop() ?? text;
}

/** `k=v k=v` of a configuration (a model path shortened to its file name). */
export function describeKnobs(configuration: Readonly<Record<string, KnobValue>>): string {
  return Object.entries(configuration)
    .map(([k, v]) => `${k}=${k === "model" ? name(v) : String(v)}`)
    .join(" ");
}

function pct(v: number | null): string {
  return v === null ? "-" : `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)} %`;
}

/** A trial's reason without the failure class it starts with (`crash: ...`), which the line shows already. */
function withoutClass(trial: TrialRecord): string {
  const reason = trial.reason ?? "";
  return trial.failure !== null && reason.startsWith(`${trial.failure}: `)
    ? reason.slice(trial.failure.length + 2)
    : reason;
}

/** One progress line of a finished trial. */
export function trialLine(
  trial: TrialRecord,
  max: number,
  best: TrialRecord | null,
  gain: number | null,
  unit: string,
): string {
  const figure =
    trial.status === "feasible"
      ? `${formatNumber(trial.value)} ${unit}${trial.spread === null ? "" : ` ±${(100 * trial.spread).toFixed(1)} %`}`
      : `${trial.status}${trial.failure ? ` (${trial.failure})` : ""}: ${withoutClass(trial)}`;
  const bestText =
    best === null
      ? "no feasible configuration yet"
      : `best ${formatNumber(best.value)} ${unit} (${pct(gain)} over the baseline)`;
  // The reason can quote a server's log line, and knobs and paths come from the user.
  return `${sanitizeText(`trial ${trial.index + 1} of at most ${max} [${trial.kind}] ${describeKnobs(trial.configuration)}: ${figure}; ${bestText}`)}\n`;
}

/** The terminal report of a tune: trials, the recommendation and the evidence. */
export function renderTune(report: TuneReport): string {
  // Above 10 % the machine changed under the tune (the tuner's DRIFT_WARNING).
  const driftWarning = Math.abs(report.max_drift) > 0.1;
  const table = createTable({
    head: ["#", "kind", "configuration", "status", report.objective_unit, "± %", "TTFT p95 ms"],
  });
  for (const t of report.trials) {
    table.push([
      String(t.index + 1),
      t.kind,
      describeKnobs(t.configuration),
      t === report.best || (report.best !== null && t.index === report.best.index)
        ? `${t.status} *`
        : t.status,
      formatNumber(t.value),
      t.spread === null ? "-" : (100 * t.spread).toFixed(1),
      formatNumber(t.ttft_p95_ms),
    ]);
  }
  // Table cells are sanitised by createTable; these lines here, at the end.
  const lines: string[] = [];
  for (const r of report.rejected) lines.push(`candidate ${name(r.model)}: ${r.verdict} (${r.reason})`);
  if (report.chosen_model !== null) lines.push(`biggest fit: ${name(report.chosen_model)}`);
  if (report.not_measured.length > 0)
    lines.push(`not measured (a candidate before them fits): ${report.not_measured.map(name).join(", ")}`);
  lines.push(
    `exit: ${report.exit_reason}${report.exit_detail ? ` (${report.exit_detail})` : ""}; ${report.trials.length} trials of at most ${report.max_trials}, ` +
      `${report.configurations_measured} of ${report.grid_size} configurations measured; tie band ${(100 * report.tie_band).toFixed(1)} %`,
  );
  if (report.anchors > 0) {
    lines.push(
      `drift: the baseline moved by up to ${pct(report.max_drift)} over ${report.anchors} anchor(s)${driftWarning ? " — above 10 %: the machine changed under the tune; compare with care" : ""}`,
    );
  }
  if (report.best !== null) {
    lines.push(
      `recommendation: ${describeKnobs(report.best.configuration)}: ${formatNumber(report.best.value)} ${report.objective_unit} (baseline ${formatNumber(report.baseline?.value ?? null)}, ${pct(report.gain)})`,
    );
    // After a drift, the gain over the first baseline mixes the knobs' effect with the machine's
    // change; the latest baseline was measured under the conditions the tune ended in.
    if (driftWarning && report.latest_baseline !== null)
      lines.push(
        `  against the latest baseline (trial ${report.latest_baseline.index + 1}: ${formatNumber(report.latest_baseline.value)} ${report.objective_unit}): ${pct(report.gain_vs_latest_baseline)}`,
      );
  }
  if (report.command !== null) lines.push(`  serve: ${report.command}`);
  if (report.bench_command !== null) lines.push(`  verify: ${report.bench_command}`);
  lines.push(`recipe ${report.recipe_hash}`);
  return [table.toString(), ...lines.map((line) => sanitizeText(line))].join("\n");
}
