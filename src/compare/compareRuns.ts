import type { DistributionMetric } from "../results/RunDistributions.js";
import type { RunSummary } from "../results/RunSummary.js";
import { bootstrapRatioInterval } from "../stats/bootstrap.js";
import { mean } from "../stats/descriptive.js";
import { compareQuantiles, mannWhitneyHistograms } from "../stats/HistogramBuckets.js";
import { mannWhitneyU } from "../stats/mannWhitneyU.js";
import type { SignificanceResult } from "../stats/SignificanceTest.js";
import { welchTTest } from "../stats/welchTTest.js";
import type { ComparableRun } from "./ComparableRun.js";

/** A row's verdict: which way the current run moved, if the test says it moved at all. */
export type Verdict = "faster" | "slower" | "no significant change" | "not tested";

/** Which significance test judges repetitions (llama-bench-style rows). */
export type RepetitionTest = "mann-whitney" | "welch";

/** Options of {@link compareRuns}. */
export interface CompareOptions {
  /** Significance level of every test. Defaults to 0.05. */
  alpha?: number;
  /** The test for repetitions. Defaults to `welch` (see docs/compare.md for why). */
  repetitionTest?: RepetitionTest;
}

/** One compared run against the first (the reference). */
export interface RowComparison {
  /** This run's value / the reference's value. */
  ratio: number | null;
  /** 95 % interval of the ratio (bootstrap for repetitions, order statistics for percentiles); null when unknown. */
  low: number | null;
  high: number | null;
  test: SignificanceResult | null;
  verdict: Verdict;
}

/** One line of a comparison: one figure of one test or metric, in every run. */
export interface ComparisonRow {
  /** `tests` (llama-bench-style rows, by test and knobs) or `requests` (request workload metrics). */
  section: "tests" | "requests";
  /** What was measured: `tg128 (threads 2)`, `TTFT`, ... */
  name: string;
  /** The figure: `t/s`, `p50`, `p95`, `mean`, `tok/s`. */
  stat: string;
  unit: string;
  /** Whether a higher value is better (rates) or a lower one (latencies). */
  better: "higher" | "lower";
  /** The figure in each run, in the order given; null where the run lacks the row. */
  values: (number | null)[];
  /** Every run after the first against the first. */
  comparisons: RowComparison[];
  /** Context length of the row (prompt + depth tokens), for the long/short prompt thresholds. */
  context_tokens: number | null;
  /** Metric family, for regression rules: `decode`, `prefill`, `ttft`, `itl`, `e2e`, `tpot`, `throughput`. */
  family: string;
  /** Tests rows: the matching key of the test (see {@link testRowsByKey}); absent on request rows. */
  test_key?: string;
}

/** A difference between the runs in something other than the results. */
export interface ComparisonDifference {
  /** `machine`, `engine`, `model`, `workload`, `configuration`, `tool`. */
  kind: string;
  field: string;
  values: string[];
}

/** What `tokbench compare` computes. */
export interface Comparison {
  runs: {
    run_id: string;
    started_at: string;
    model: string | null;
    workload: string | null;
    hostname: string;
  }[];
  differences: ComparisonDifference[];
  rows: ComparisonRow[];
  alpha: number;
  repetition_test: RepetitionTest;
}

/** Knob fields of test rows; the test itself (`n_prompt`, `n_gen`, `n_depth`) is always matched. */
const KNOB_FIELDS = [
  "model_type",
  "backends",
  "n_threads",
  "n_batch",
  "n_ubatch",
  "n_gpu_layers",
  "type_k",
  "type_v",
  "flash_attn",
  "n_parallel",
] as const;

const str = (v: unknown): string =>
  v === null || v === undefined ? "-" : typeof v === "string" ? v : JSON.stringify(v);

/** The request metrics compared, with their statistics. */
const REQUEST_ROWS: {
  metric: DistributionMetric;
  name: string;
  unit: string;
  better: "higher" | "lower";
  family: string;
  stats: ("p50" | "p95" | "p99" | "mean")[];
}[] = [
  {
    metric: "ttft_ms",
    name: "TTFT",
    unit: "ms",
    better: "lower",
    family: "ttft",
    stats: ["p50", "p95", "p99"],
  },
  {
    metric: "itl_ms",
    name: "inter-token latency",
    unit: "ms",
    better: "lower",
    family: "itl",
    stats: ["p50", "p95", "p99"],
  },
  {
    metric: "tpot_ms",
    name: "time per output token",
    unit: "ms",
    better: "lower",
    family: "tpot",
    stats: ["p50", "p95"],
  },
  {
    metric: "e2e_ms",
    name: "end-to-end latency",
    unit: "ms",
    better: "lower",
    family: "e2e",
    stats: ["p50", "p95"],
  },
  {
    metric: "decode_tps",
    name: "decode rate",
    unit: "tok/s",
    better: "higher",
    family: "decode",
    stats: ["p50", "p95"],
  },
  {
    metric: "prefill_tps",
    name: "prefill rate",
    unit: "tok/s",
    better: "higher",
    family: "prefill",
    stats: ["p50"],
  },
];

const QUANTILE: Record<string, number> = { p50: 0.5, p90: 0.9, p95: 0.95, p99: 0.99 };

function verdictOf(
  test: SignificanceResult | null,
  ratio: number | null,
  better: "higher" | "lower",
  alpha: number,
): Verdict {
  if (test === null || ratio === null || !Number.isFinite(ratio)) return "not tested";
  if (test.p_value >= alpha || ratio === 1) return "no significant change";
  return ratio > 1 === (better === "higher") ? "faster" : "slower";
}

/**
 * Compares runs side by side: the first is the reference, each other one is set against it.
 *
 * What differs besides the results comes first: machine, engine, model file, workload and, for
 * llama-bench-style rows, any knob whose values do not overlap between the runs (threads 1 against
 * threads 2): such a knob is then left out of the row matching, so the rows line up by test.
 *
 * Rows are matched by what was measured: test rows by test (`n_prompt`, `n_gen`, `n_depth`) and the
 * knobs the runs share, judged on their repetitions (`samples_ts`) with the repetition test and a
 * bootstrap interval of the ratio of means; request workloads metric by metric, the medians by
 * Mann-Whitney U over the whole stored distributions and the upper percentiles by their
 * order-statistic intervals (`compareQuantiles`).
 */
export function compareRuns(runs: readonly ComparableRun[], options: CompareOptions = {}): Comparison {
  const alpha = options.alpha ?? 0.05;
  const repetitionTest = options.repetitionTest ?? "welch";
  const differences = listDifferences(runs);
  const excluded = new Set<string>();
  for (const d of differences) if (d.kind === "configuration") excluded.add(d.field);
  const rows = [...testRows(runs, excluded, alpha, repetitionTest), ...requestRows(runs, alpha)];
  return {
    runs: runs.map(({ run }) => ({
      run_id: run.run_id,
      started_at: run.started_at,
      model: run.model ?? null,
      workload: run.workload,
      hostname: run.machine.hostname,
    })),
    differences,
    rows,
    alpha,
    repetition_test: repetitionTest,
  };
}

function listDifferences(runs: readonly ComparableRun[]): ComparisonDifference[] {
  const out: ComparisonDifference[] = [];
  const add = (kind: string, field: string, pick: (r: ComparableRun) => unknown): void => {
    const values = runs.map((r) => str(pick(r)));
    if (new Set(values).size > 1) out.push({ kind, field, values });
  };
  for (const field of [
    "hostname",
    "cpu_model",
    "cpu_cores",
    "total_memory_bytes",
    "os",
    "os_release",
    "arch",
    "gpus",
    "node_version",
  ] as const) {
    add("machine", field, (r) => r.run.machine[field]);
  }
  add("engine", "engine", (r) => r.run.machine.engine);
  add("engine", "llama_cpp_version", (r) => r.run.machine.llama_cpp_version);
  add("tool", "tokbench", (r) => r.run.tool.version);
  add("model", "model", (r) => r.run.model);
  add("model", "model_size", (r) => r.run.tests.find((t) => t.model_size !== undefined)?.model_size);
  add("workload", "workload", (r) => r.run.workload);
  add("workload", "target", (r) => r.run.config.target);
  add("workload", "url", (r) => r.run.config.url);
  for (const field of KNOB_FIELDS) {
    const sets = runs.map(
      (r) => new Set(r.run.tests.filter((t) => t.test !== "load").map((t) => str(t[field]))),
    );
    if (sets.some((s) => s.size === 0)) continue;
    const first = sets[0] as Set<string>;
    // Disjoint value sets: the runs differ in this knob everywhere, so it is configuration, not a row key.
    if (sets.slice(1).some((s) => [...s].every((v) => !first.has(v)))) {
      out.push({ kind: "configuration", field, values: sets.map((s) => [...s].join(",")) });
    }
  }
  return out;
}

/** A run's test rows (failed ones and model loads left out) by the key rows are matched on. */
export function testRowsByKey(
  run: ComparableRun,
  excluded: ReadonlySet<string> = new Set(),
): Map<string, Record<string, unknown>> {
  const map = new Map<string, Record<string, unknown>>();
  for (const t of run.run.tests)
    if (t.test !== "load" && t.status !== "failed") map.set(testKey(t, excluded), t);
  return map;
}

function testKey(t: Record<string, unknown>, excluded: ReadonlySet<string>): string {
  const knobs = KNOB_FIELDS.filter((f) => !excluded.has(f)).map((f) => `${f}=${str(t[f])}`);
  return [`${str(t.n_prompt)}/${str(t.n_gen)}/${str(t.n_depth)}`, ...knobs].join(" ");
}

function testName(t: Record<string, unknown>, excluded: Set<string>): string {
  const knobs: string[] = [];
  const label: Record<string, string> = {
    n_threads: "threads",
    n_batch: "batch",
    n_ubatch: "ubatch",
    n_gpu_layers: "ngl",
    type_k: "type_k",
    type_v: "type_v",
    flash_attn: "fa",
    n_parallel: "np",
  };
  for (const [f, l] of Object.entries(label)) if (!excluded.has(f)) knobs.push(`${l} ${str(t[f])}`);
  return `${str(t.test)} (${knobs.join(", ")})`;
}

function testRows(
  runs: readonly ComparableRun[],
  excluded: Set<string>,
  alpha: number,
  which: RepetitionTest,
): ComparisonRow[] {
  const byRun = runs.map((run) => testRowsByKey(run, excluded));
  const rows: ComparisonRow[] = [];
  for (const [key, ref] of byRun[0] ?? new Map()) {
    const samples = (t: Record<string, unknown> | undefined): number[] =>
      Array.isArray(t?.samples_ts)
        ? (t.samples_ts as unknown[]).filter((x): x is number => typeof x === "number")
        : [];
    const base = samples(ref);
    const nPrompt = Number(ref.n_prompt ?? 0);
    const nGen = Number(ref.n_gen ?? 0);
    const values = byRun.map((m) => {
      const v = m.get(key)?.avg_ts;
      return typeof v === "number" ? v : null;
    });
    const comparisons = byRun.slice(1).map((m) => {
      const other = m.get(key);
      if (other === undefined || base.length === 0)
        return { ratio: null, low: null, high: null, test: null, verdict: "not tested" as const };
      const current = samples(other);
      const test = which === "welch" ? welchTTest(base, current) : mannWhitneyU(base, current);
      const ratio = mean(current) / mean(base);
      const ci = bootstrapRatioInterval(base, current, mean);
      return {
        ratio,
        low: ci?.low ?? null,
        high: ci?.high ?? null,
        test,
        verdict: verdictOf(test, ratio, "higher", alpha),
      };
    });
    rows.push({
      section: "tests",
      name: testName(ref, excluded),
      stat: "t/s",
      unit: "tok/s",
      better: "higher",
      values,
      comparisons,
      context_tokens: nPrompt + Number(ref.n_depth ?? 0),
      family: nGen > 0 ? "decode" : "prefill",
      test_key: key,
    });
  }
  return rows;
}

function requestRows(runs: readonly ComparableRun[], alpha: number): ComparisonRow[] {
  const reference = runs[0];
  if (
    reference === undefined ||
    reference.run.summary === null ||
    reference.run.summary.requests.succeeded === 0
  )
    return [];
  const promptTokens = (r: ComparableRun): number | null => {
    const s = r.run.summary;
    return s !== null && s.requests.succeeded > 0 ? s.total_prompt_tokens / s.requests.succeeded : null;
  };
  const rows: ComparisonRow[] = [];
  for (const spec of REQUEST_ROWS) {
    for (const stat of spec.stats) {
      const values = runs.map((r) => {
        const d = r.run.summary?.[spec.metric as keyof RunSummary] as
          | { count: number; p50: number | null; p95: number | null; p99: number | null; mean: number | null }
          | undefined;
        return d === undefined || d.count === 0 ? null : d[stat];
      });
      if (values[0] === null) continue;
      const base = reference.distributions.get(spec.metric);
      const comparisons: RowComparison[] = runs.slice(1).map((r, i) => {
        const value = values[i + 1] ?? null;
        const ratio = value === null ? null : value / (values[0] as number);
        const current = r.distributions.get(spec.metric);
        if (base === undefined || current === undefined || ratio === null) {
          return { ratio, low: null, high: null, test: null, verdict: "not tested" };
        }
        if (stat === "p50" || stat === "mean") {
          const test = mannWhitneyHistograms(base, current);
          const q = compareQuantiles(base, current, 0.5);
          // The interval shown is the median's; the verdict is Mann-Whitney's.
          return {
            ratio,
            low: Number.isFinite(q.low) ? q.low : null,
            high: Number.isFinite(q.high) ? q.high : null,
            test,
            verdict: verdictOf(test, ratio, spec.better, alpha),
          };
        }
        const q = compareQuantiles(base, current, QUANTILE[stat] as number);
        return {
          ratio,
          low: Number.isFinite(q.low) ? q.low : null,
          high: Number.isFinite(q.high) ? q.high : null,
          test: q.test,
          verdict: verdictOf(q.test, ratio, spec.better, alpha),
        };
      });
      rows.push({
        section: "requests",
        name: spec.name,
        stat,
        unit: spec.unit,
        better: spec.better,
        values,
        comparisons,
        context_tokens: promptTokens(reference),
        family: spec.family,
      });
    }
  }
  const throughput = runs.map((r) => r.run.summary?.output_tokens_per_s ?? null);
  if (throughput[0] !== null) {
    rows.push({
      section: "requests",
      name: "output throughput",
      stat: "total",
      unit: "tok/s",
      better: "higher",
      values: throughput,
      comparisons: throughput.slice(1).map((v) => ({
        ratio: v === null ? null : v / (throughput[0] as number),
        low: null,
        high: null,
        test: null,
        verdict: "not tested",
      })),
      context_tokens: promptTokens(reference),
      family: "throughput",
    });
  }
  return rows;
}
