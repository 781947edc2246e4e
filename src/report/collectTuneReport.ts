import type { TuneReportData, TuneTrialPicture } from "../output/html/ReportData.js";
import type { KnobValue, Measurement } from "../results/TuneResult.js";
import type { StoredTune } from "../storage/TuneStore.js";

/** The measurement field each tune objective reads (the tuner's `objectiveSpec`), and its unit. */
const OBJECTIVES: Record<string, { field: keyof Measurement; unit: string; higher_is_better: boolean }> = {
  throughput: { field: "output_tokens_per_s", unit: "tok/s", higher_is_better: true },
  latency: { field: "ttft_p95_ms", unit: "ms TTFT p95", higher_is_better: false },
  goodput: { field: "goodput_rps", unit: "req/s", higher_is_better: true },
};

const knobText = (knobs: unknown): string | null =>
  knobs === null || typeof knobs !== "object"
    ? null
    : Object.entries(knobs as Record<string, KnobValue>)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(" ");

const text = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === "string" ? v : JSON.stringify(v);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);
const record = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/**
 * What the report shows of a stored tune: each trial with the best feasible value so far, the
 * trials table, and the recommendation with its recipe (hash and command line). The recipe and
 * spec are read as stored JSON, field by field, so a tune of another version still shows. Pure.
 */
export function collectTuneReport(tune: StoredTune): TuneReportData {
  const spec = record(tune.spec);
  const settings = record(spec.settings);
  const recipe = tune.recipe === null ? null : record(tune.recipe);
  const objective = typeof settings.objective === "string" ? settings.objective : "throughput";
  const o = OBJECTIVES[objective] ?? (OBJECTIVES.throughput as (typeof OBJECTIVES)[string]);
  const evidence = record(recipe?.evidence);
  const unit = typeof evidence.objective_unit === "string" ? evidence.objective_unit : o.unit;

  let best: number | null = null;
  const trials: TuneTrialPicture[] = tune.trials.map((t) => {
    if (t.status === "feasible" && t.value !== null) {
      if (best === null || (o.higher_is_better ? t.value > best : t.value < best)) best = t.value;
    }
    return {
      index: t.index,
      stage: t.stage,
      kind: t.kind,
      knobs: knobText(t.configuration) ?? "-",
      status: t.status,
      failure: t.failure,
      reason: t.reason,
      value: t.value,
      spread: t.spread,
      ttft_p95_ms: t.ttft_p95_ms,
      replicates: t.replicates.map((m) => ({
        value: num(m[o.field]),
        status: m.status,
        feasible: m.feasible,
      })),
      best_so_far: best,
      elapsed_ms: t.elapsed_ms,
    };
  });

  const setup: [string, string][] = [];
  const inputs = record(recipe?.inputs);
  const source = record(spec.source ?? inputs.source);
  const sweep = record(spec.sweep);
  const add = (label: string, v: unknown): void => {
    const t = text(v);
    if (t !== null && t !== "" && t !== "[]" && t !== "{}") setup.push([label, t]);
  };
  add("measured from", source.kind === "replay" ? `replay of ${text(source.path) ?? "a file"}` : source.kind);
  add("provider", sweep.provider ?? inputs.provider);
  add("server command", sweep.server_cmd ?? inputs.server_cmd);
  add("candidates", inputs.candidates ?? spec.candidates);
  add("knob space", inputs.knobs);
  add("baseline", knobText(inputs.baseline ?? spec.baseline));
  add("workload", inputs.workload);
  add("budgets", inputs.budgets ?? settings.budgets);
  add("search", inputs.search);

  let recommendation: TuneReportData["recommendation"] = null;
  if (recipe !== null) {
    const r = record(recipe.recommendation);
    const bestPoint = record(evidence.best);
    const baseline = record(evidence.baseline);
    const drift = record(evidence.drift);
    const model = r.model;
    recommendation = {
      model:
        model === null || model === undefined
          ? null
          : typeof model === "string"
            ? model
            : text(record(model).path),
      knobs: knobText(r.knobs),
      command: text(r.command),
      env: Object.entries(record(r.env)).map(([k, v]) => [k, String(v)]),
      bench_command: text(r.bench_command),
      recipe_hash: text(recipe.recipe_hash),
      value: num(bestPoint.value),
      baseline_value: num(baseline.value),
      gain: num(evidence.gain),
      trial: num(bestPoint.trial),
      drift_warning:
        drift.warning === true
          ? `the re-measured baseline drifted by up to ${((num(drift.max) ?? 0) * 100).toFixed(1)} % over ${String(drift.anchors)} anchors: the machine's speed moved during the tune`
          : null,
      rejected: (Array.isArray(evidence.rejected_candidates) ? evidence.rejected_candidates : []).map((x) => {
        const c = record(x);
        return { model: String(c.model), verdict: String(c.verdict), reason: String(c.reason) };
      }),
    };
  }
  return {
    tune_id: tune.tune_id,
    status: tune.status,
    exit_reason: tune.exit_reason,
    exit_detail: text(recipe?.exit_detail),
    started_at: tune.started_at,
    ended_at: tune.ended_at,
    tool_version: tune.tool_version,
    setup,
    machine: null,
    objective,
    objective_unit: unit,
    higher_is_better: o.higher_is_better,
    trials,
    recommendation,
  };
}
