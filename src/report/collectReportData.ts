import { loadComparableRun } from "../compare/ComparableRun.js";
import { compareRuns } from "../compare/compareRuns.js";
import type { DistributionPicture, ReportData, RunReportData } from "../output/html/ReportData.js";
import { FLAG_MEANING } from "../output/terminal/renderRunSummary.js";
import type { DistributionStats } from "../results/DistributionStats.js";
import type { RunSummary } from "../results/RunSummary.js";
import { HistogramBuckets } from "../stats/HistogramBuckets.js";
import type { RunHistory, StoredRunHeader } from "../storage/RunHistory.js";
import type { StoredSweep } from "../storage/SweepStore.js";
import type { StoredTune } from "../storage/TuneStore.js";
import { TOKBENCH_VERSION } from "../toolVersion.js";
import { collectSweepReport } from "./collectSweepReport.js";
import { collectTuneReport } from "./collectTuneReport.js";

/** Requests drawn in the per-request timeline, at most. */
const TIMELINE_REQUESTS = 400;
/** Time bins of the throughput chart, at most. */
const THROUGHPUT_BINS = 240;
/** Points of a CDF, at most. */
const CDF_POINTS = 300;

const PICTURED: {
  metric: "ttft_ms" | "itl_ms" | "e2e_ms" | "tpot_ms" | "chunk_gap_ms";
  label: string;
  unit: string;
}[] = [
  { metric: "ttft_ms", label: "Time to first token", unit: "ms" },
  { metric: "itl_ms", label: "Inter-token latency", unit: "ms" },
  { metric: "e2e_ms", label: "End-to-end latency", unit: "ms" },
];

const SUMMARY_ROWS: { key: keyof RunSummary; label: string }[] = [
  { key: "ttft_ms", label: "TTFT (ms)" },
  { key: "itl_ms", label: "inter-token latency (ms)" },
  { key: "tpot_ms", label: "time per output token (ms)" },
  { key: "e2e_ms", label: "end-to-end latency (ms)" },
  { key: "decode_tps", label: "decode rate (tok/s)" },
  { key: "prefill_tps", label: "prefill rate (tok/s)" },
  { key: "server_decode_tps", label: "server-reported decode (tok/s)" },
  { key: "server_prefill_tps", label: "server-reported prefill (tok/s)" },
  { key: "chunk_gap_ms", label: "chunk arrival gap (ms)" },
  { key: "dispatch_lag_ms", label: "harness dispatch lag (ms)" },
];

const str = (v: unknown): string =>
  v === null || v === undefined ? "-" : typeof v === "string" ? v : JSON.stringify(v);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * Gathers what `tokbench report` shows, from the run history alone: each run's header, its stored
 * distributions, one pass over its requests (timeline sample, throughput and concurrency over
 * time, errors), its resource time series and test rows, interpretation hints, and the comparison
 * when there are several runs; and each sweep's and tune's pictures (read by the caller through the
 * store's sweep and tune reads, whatever its dialect). Memory stays bounded by the picture sizes,
 * not the run's length.
 */
export async function collectReportData(
  history: RunHistory,
  runIds: readonly string[],
  searches: { sweeps?: readonly StoredSweep[]; tunes?: readonly StoredTune[] } = {},
): Promise<ReportData> {
  const runs: RunReportData[] = [];
  for (const id of runIds) runs.push(await collectRun(history, id));
  let comparison = null;
  if (runIds.length > 1) {
    const comparable = [];
    for (const id of runIds) comparable.push(await loadComparableRun(history, id));
    comparison = compareRuns(comparable);
  }
  const sweeps = [];
  for (const stored of searches.sweeps ?? []) {
    const sweep = collectSweepReport(stored);
    sweep.machine = await firstRunMachine(
      history,
      stored.cells.flatMap((c) => c.run_ids),
    );
    sweeps.push(sweep);
  }
  const tunes = [];
  for (const stored of searches.tunes ?? []) {
    const tune = collectTuneReport(stored);
    tune.machine = await firstRunMachine(
      history,
      stored.trials.flatMap((t) => t.replicates.map((m) => m.run_id)),
    );
    tunes.push(tune);
  }
  return {
    generated_at: new Date().toISOString(),
    tool_version: TOKBENCH_VERSION,
    runs,
    comparison,
    sweeps,
    tunes,
  };
}

async function collectRun(history: RunHistory, runId: string): Promise<RunReportData> {
  const run = await history.readRun(runId);
  const summary = run.summary;
  const stored = await history.distributions(runId);
  const distributions: DistributionPicture[] = [];
  if (stored !== null) {
    for (const p of PICTURED) {
      const encoded = stored.histograms[p.metric];
      if (encoded === undefined) continue;
      const h = HistogramBuckets.decode(encoded, stored.value_scale);
      const d = summary?.[p.metric] as DistributionStats | undefined;
      const cdf = h.cdf();
      const step = Math.max(1, Math.ceil(cdf.length / CDF_POINTS));
      distributions.push({
        metric: p.metric,
        label: p.label,
        unit: p.unit,
        count: h.count,
        bins: h.bins(60),
        cdf: cdf.filter((_, i) => i % step === 0 || i === cdf.length - 1),
        percentiles: { p50: d?.p50 ?? null, p90: d?.p90 ?? null, p95: d?.p95 ?? null, p99: d?.p99 ?? null },
      });
    }
  }
  const pass = await requestPass(history, run);
  const timeline = await history.resourceTimeline(runId);
  const resources =
    timeline.length === 0
      ? null
      : {
          t_s: timeline.map((p) => (p.offset_ms + p.span_ms) / 1000),
          rss_mb: timeline.map((p) => (p.rss_bytes === null ? null : p.rss_bytes / 2 ** 20)),
          cpu_percent: timeline.map((p) => p.cpu_percent),
          gpu_memory_mb: timeline.map((p) =>
            p.gpu_memory_bytes === null ? null : p.gpu_memory_bytes / 2 ** 20,
          ),
          gpu_utilization_percent: timeline.map((p) => p.gpu_utilization_percent),
          disk_read_mb: timeline.map((p) =>
            p.disk_read_bytes === null ? null : p.disk_read_bytes / 2 ** 20,
          ),
          disk_write_mb: timeline.map((p) =>
            p.disk_write_bytes === null ? null : p.disk_write_bytes / 2 ** 20,
          ),
        };
  const tests = run.tests
    .filter((t) => t.test !== "load" && t.status !== "failed")
    .map((t) => ({
      name: `${str(t.test)} · threads ${str(t.n_threads)} · batch ${str(t.n_batch)}${t.n_gpu_layers ? ` · ngl ${str(t.n_gpu_layers)}` : ""}`,
      avg_ts: num(t.avg_ts),
      stddev_ts: num(t.stddev_ts),
      samples: Array.isArray(t.samples_ts)
        ? (t.samples_ts as unknown[]).filter((x): x is number => typeof x === "number")
        : [],
      engine_ts: num(t.engine_ts),
      ceiling_tps: num(t.ceiling_tps),
      efficiency_pct: num(t.efficiency_pct),
    }));
  return {
    run_id: run.run_id,
    model: run.model,
    target: run.target_kind,
    workload: run.workload,
    started_at: run.started_at,
    ended_at: run.ended_at,
    status: run.status,
    status_reason: run.status_reason,
    tool_version: run.tool.version,
    tags: run.tags,
    machine: machineLines(run.machine),
    configuration: configurationLines(run),
    flags: Object.entries(summary?.flags ?? {})
      .filter(([, n]) => (n ?? 0) > 0)
      .map(([flag, count]) => ({ flag, count: count ?? 0, meaning: FLAG_MEANING[flag] ?? "" })),
    requests: {
      total: summary?.requests.total ?? run.request_count,
      succeeded: summary?.requests.succeeded ?? 0,
      failed: summary?.requests.failed ?? 0,
      cancelled: summary?.requests.cancelled ?? 0,
    },
    errors: pass.errors,
    summary_rows:
      summary === null
        ? []
        : SUMMARY_ROWS.map((row) => ({ row, d: summary[row.key] as DistributionStats }))
            .filter(({ d }) => d.count > 0)
            .map(({ row, d }) => ({
              label: row.label,
              n: d.count,
              mean: d.mean,
              p50: d.p50,
              p90: d.p90,
              p95: d.p95,
              p99: d.p99,
              max: d.max,
            })),
    distributions,
    timeline: pass.timeline,
    throughput: pass.throughput,
    resources,
    tests,
    server_vs_client:
      summary === null
        ? []
        : [
            {
              label: "decode rate p50 (tok/s)",
              client: summary.decode_tps.p50,
              server: summary.server_decode_tps.p50,
            },
            {
              label: "prefill rate p50 (tok/s)",
              client: summary.prefill_tps.p50,
              server: summary.server_prefill_tps.p50,
            },
            ...tests
              .filter((t) => t.engine_ts !== null)
              .map((t) => ({ label: `${t.name} (t/s)`, client: t.avg_ts, server: t.engine_ts })),
          ].filter((r) => r.client !== null && r.server !== null),
    hints: hints(run, resources, tests),
  };
}

/** The machine a run measured on, as the report's header lines. */
function machineLines(m: StoredRunHeader["machine"]): [string, string][] {
  return [
    ["host", m.hostname],
    ["CPU", `${m.cpu_model} (${m.cpu_cores} logical CPUs)`],
    ["memory", `${(m.total_memory_bytes / 2 ** 30).toFixed(1)} GiB`],
    ["OS", `${m.os} (${m.os_release}, ${m.arch})`],
    ["GPUs", m.gpus.length === 0 ? "none" : m.gpus.map((g) => g.name).join(", ")],
    ["engine", [m.engine, m.llama_cpp_version].filter((x) => x !== null).join(", ") || "-"],
    ["Node.js", m.node_version],
  ];
}

/**
 * The machine of a sweep's or tune's first stored run: a sweep or tune row keeps no machine of its
 * own, its runs do. Null when none was stored (a replayed tune, a sweep whose cells all failed) or
 * the run is gone.
 */
async function firstRunMachine(
  history: RunHistory,
  runIds: readonly (string | null)[],
): Promise<[string, string][] | null> {
  const id = runIds.find((x): x is string => x !== null);
  if (id === undefined) return null;
  try {
    return machineLines((await history.readRun(id)).machine);
  } catch {
    return null;
  }
}

function configurationLines(run: StoredRunHeader): [string, string][] {
  const c = run.config;
  const lines: [string, string][] = [];
  for (const key of [
    "target",
    "url",
    "api",
    "model",
    "repetitions",
    "tests",
    "knobs",
    "load",
    "workload",
    "request_context",
    "workload_description",
  ]) {
    if (c[key] !== undefined && c[key] !== null) lines.push([key, str(c[key])]);
  }
  return lines;
}

/** One pass over the stored requests: errors by code, an even sample for the timeline, and time bins. */
async function requestPass(
  history: RunHistory,
  run: StoredRunHeader,
): Promise<Pick<RunReportData, "errors" | "timeline" | "throughput">> {
  const total = run.request_count;
  if (total === 0) return { errors: [], timeline: null, throughput: null };
  // The run's span is known from the summary when it finished; a dead run's takes a first pass.
  let span = run.summary?.duration_ms ?? 0;
  if (span <= 1) {
    for await (const r of history.requests(run.run_id)) span = Math.max(span, r.sent_offset_ms + r.e2e_ms);
  }
  const binMs = Math.max(1000, Math.ceil(span / THROUGHPUT_BINS / 1000) * 1000);
  const bins = Math.max(1, Math.ceil(span / binMs) + 1);
  const outputTokens = new Float64Array(bins);
  const completed = new Float64Array(bins);
  const busy = new Float64Array(bins);
  const every = Math.max(1, Math.ceil(total / TIMELINE_REQUESTS));
  const sample: [number, number, number | null, number, number][] = [];
  const errors = new Map<string, { count: number; example: string }>();
  let first = Number.POSITIVE_INFINITY;
  for await (const r of history.requests(run.run_id)) {
    first = Math.min(first, r.sent_offset_ms);
    const end = r.sent_offset_ms + r.e2e_ms;
    const bin = Math.min(bins - 1, Math.max(0, Math.floor(end / binMs)));
    completed[bin] = (completed[bin] as number) + 1;
    if (r.error === null) outputTokens[bin] = (outputTokens[bin] as number) + r.output_tokens;
    else {
      const e = errors.get(r.error.code);
      if (e === undefined) errors.set(r.error.code, { count: 1, example: r.error.message });
      else e.count++;
    }
    // Time in flight, spread over the bins the request spans: their mean concurrency.
    for (let b = Math.max(0, Math.floor(r.sent_offset_ms / binMs)); b < bins && b * binMs < end; b++) {
      const overlap = Math.min(end, (b + 1) * binMs) - Math.max(r.sent_offset_ms, b * binMs);
      if (overlap > 0) busy[b] = (busy[b] as number) + overlap;
    }
    if (r.index % every === 0) {
      sample.push([
        r.planned_offset_ms,
        r.sent_offset_ms,
        r.ttft_ms === null ? null : r.sent_offset_ms + r.ttft_ms,
        end,
        r.error === null ? 0 : 1,
      ]);
    }
  }
  const t: number[] = [];
  for (let b = 0; b < bins; b++) t.push(((b + 0.5) * binMs) / 1000);
  const perSecond = (a: Float64Array): number[] => Array.from(a, (x) => x / (binMs / 1000));
  return {
    errors: [...errors.entries()].map(([code, e]) => ({ code, count: e.count, example: e.example })),
    timeline: { every, total, requests: sample.sort((a, b) => a[1] - b[1]) },
    throughput: {
      bin_s: binMs / 1000,
      t_s: t,
      output_tps: perSecond(outputTokens),
      completed_rps: perSecond(completed),
      in_flight: Array.from(busy, (x) => x / binMs),
    },
  };
}

function hints(
  run: StoredRunHeader,
  resources: RunReportData["resources"],
  tests: RunReportData["tests"],
): RunReportData["hints"] {
  const out: RunReportData["hints"] = [];
  const tg = tests.filter((t) => t.efficiency_pct !== null);
  for (const t of tg) {
    const e = t.efficiency_pct as number;
    if (e >= 70)
      out.push({
        level: "info",
        text: `${t.name}: ${e.toFixed(0)} % of the roofline decode ceiling: memory-bound, close to what the memory bandwidth allows; only a smaller model (quantization) or faster memory goes further.`,
      });
    else if (e < 35)
      out.push({
        level: "info",
        text: `${t.name}: ${e.toFixed(0)} % of the roofline decode ceiling: far from memory-bound; compute, threads or per-token overhead limit it (try more threads or a tuned build).`,
      });
  }
  const cpu = resources?.cpu_percent.filter((x): x is number => x !== null) ?? [];
  if (cpu.length > 0) {
    const mean = cpu.reduce((a, b) => a + b, 0) / cpu.length;
    const cores = run.machine.cpu_cores;
    if (mean > 90 * cores * 0.9)
      out.push({
        level: "warning",
        text: `The process used ${mean.toFixed(0)} % CPU on average on ${cores} logical CPUs: the CPUs were saturated (compute-bound, or contended by other processes).`,
      });
  }
  const peak = run.resources?.peak_rss_bytes ?? null;
  if (peak !== null && peak > 0.85 * run.machine.total_memory_bytes) {
    out.push({
      level: "warning",
      text: `Peak resident memory ${(peak / 2 ** 30).toFixed(1)} GiB is over 85 % of the machine's ${(run.machine.total_memory_bytes / 2 ** 30).toFixed(1)} GiB: memory pressure, possibly swapping.`,
    });
  }
  const read = run.resources?.disk_read_bytes ?? null;
  const modelSize = num(run.tests.find((t) => t.model_size !== undefined)?.model_size);
  if (read !== null && modelSize !== null && read > 0.5 * modelSize) {
    out.push({
      level: "info",
      text: `${(read / 2 ** 20).toFixed(0)} MiB read from disk during the run (the model is ${(modelSize / 2 ** 20).toFixed(0)} MiB): a cold load from disk, not the page cache; load times include it.`,
    });
  }
  const s = run.summary;
  if (s !== null && s.requests.succeeded > 0) {
    const flagged = Object.values(s.flags).reduce((a, b) => a + (b ?? 0), 0);
    if (flagged > 0.05 * s.requests.succeeded) {
      out.push({
        level: "warning",
        text: `${flagged} trust flags over ${s.requests.succeeded} successful requests: read the figures they touch with care (see the flags below).`,
      });
    }
    if (s.requests.failed > 0)
      out.push({
        level: "warning",
        text: `${s.requests.failed} of ${s.requests.total} requests failed; the distributions cover the successful ones only.`,
      });
  }
  return out;
}
