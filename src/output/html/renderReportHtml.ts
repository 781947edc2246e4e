import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Comparison } from "../../compare/compareRuns.js";
import { escapeHtml, jsonForScript } from "../../text/escapeHtml.js";
import { formatNumber } from "../formatNumber.js";
import type { ReportData, RunReportData, SweepReportData, TuneReportData } from "./ReportData.js";
import { REPORT_SCRIPT } from "./reportScript.js";

/** Chart.js's browser build, inlined so the page needs no network. */
function chartLibrary(): string {
  // The package exports only its module entry points; the browser build sits beside them in dist/.
  const path = join(dirname(createRequire(import.meta.url).resolve("chart.js")), "chart.umd.min.js");
  // Drop the source-map comment: the map is not shipped in the page, and a browser would ask for it.
  return readFileSync(path, "utf8").replace(/\/\/# sourceMappingURL=\S+\s*$/, "");
}

const e = (value: unknown): string => escapeHtml(value === null || value === undefined ? "-" : String(value));

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#111827;background:#f9fafb}
header.page{background:#111827;color:#f9fafb;padding:16px 24px}header.page h1{margin:0;font-size:20px}
main{padding:16px 24px;max-width:1280px}section.run{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:16px;margin:16px 0}
h2{font-size:17px;margin:0 0 8px}h3{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #e5e7eb;padding:3px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px}
.chart{position:relative;height:280px}.chart.tall{height:420px}.muted{color:#6b7280}
.hint{padding:6px 10px;border-radius:6px;margin:4px 0}.hint.info{background:#eff6ff}.hint.warning{background:#fef3c7}
.status-completed{color:#15803d}.status-aborted,.status-incomplete{color:#b91c1c}.status-interrupted{color:#b45309}
.verdict-slower{color:#b91c1c;font-weight:600}.verdict-faster{color:#15803d;font-weight:600}
code{font-size:12px;word-break:break-all}
.cell-feasible{color:#15803d}.cell-infeasible{color:#b45309}.cell-failed,.cell-wont_fit{color:#b91c1c}.cell-skipped{color:#6b7280}
tr.best td{background:#ecfdf5}.legend span{display:inline-block;padding:1px 8px;margin-right:6px;border-radius:4px}
.scroll{max-height:520px;overflow:auto}pre.cmd{background:#f3f4f6;padding:8px;white-space:pre-wrap;word-break:break-all}`;

function table(head: string[], rows: string[][], numeric: boolean[] = []): string {
  const th = head.map((h, i) => `<th${numeric[i] ? ' class="n"' : ""}>${e(h)}</th>`).join("");
  const body = rows
    .map((r) => `<tr>${r.map((c, i) => `<td${numeric[i] ? ' class="n"' : ""}>${e(c)}</td>`).join("")}</tr>`)
    .join("");
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

const canvas = (id: string, tall = false): string =>
  `<div class="chart${tall ? " tall" : ""}"><canvas data-chart="${escapeHtml(id)}"></canvas></div>`;

function runSection(run: RunReportData, index: number): string {
  const p = `r${index}-`;
  const parts: string[] = [];
  parts.push(
    `<h2>Run <code>${e(run.run_id)}</code> <span class="status-${e(run.status)}">${e(run.status)}</span></h2>`,
    table(
      ["", ""],
      [
        ["model", run.model ?? "-"],
        ["target", run.target ?? "-"],
        ["workload", run.workload ?? "-"],
        ["started", run.started_at],
        ["ended", run.ended_at ?? "-"],
        ["status", run.status_reason === null ? run.status : `${run.status}: ${run.status_reason}`],
        ["tags", run.tags.join(", ") || "-"],
        ["tokbench", run.tool_version],
        [
          "requests",
          `${run.requests.succeeded} succeeded, ${run.requests.failed} failed${run.requests.cancelled > 0 ? `, ${run.requests.cancelled} cancelled` : ""}`,
        ],
      ],
    ),
    "<h3>Machine</h3>",
    table(["", ""], run.machine),
  );
  if (run.configuration.length > 0) parts.push("<h3>Configuration</h3>", table(["", ""], run.configuration));
  parts.push(hintsBlock(run.hints));
  if (run.flags.length > 0) {
    parts.push(
      "<h3>Trust flags</h3>",
      table(
        ["flag", "requests", "meaning"],
        run.flags.map((f) => [f.flag, String(f.count), f.meaning]),
        [false, true, false],
      ),
    );
  }
  if (run.errors.length > 0) {
    parts.push(
      "<h3>Errors</h3>",
      table(
        ["code", "requests", "first message"],
        run.errors.map((x) => [x.code, String(x.count), x.example]),
        [false, true, false],
      ),
    );
  }
  if (run.summary_rows.length > 0) {
    parts.push(
      "<h3>Summary</h3>",
      table(
        ["", "n", "mean", "p50", "p90", "p95", "p99", "max"],
        run.summary_rows.map((r) => [
          r.label,
          String(r.n),
          ...[r.mean, r.p50, r.p90, r.p95, r.p99, r.max].map((v) => formatNumber(v)),
        ]),
        [false, true, true, true, true, true, true, true],
      ),
    );
  }
  if (run.distributions.length > 0) {
    parts.push(
      "<h3>Latency distributions</h3>",
      `<div class="grid">${run.distributions.map((d) => canvas(`${p}hist-${d.metric}`) + canvas(`${p}cdf-${d.metric}`)).join("")}</div>`,
    );
  }
  if (run.timeline !== null) parts.push("<h3>Requests over time</h3>", canvas(`${p}timeline`, true));
  if (run.throughput !== null) parts.push(canvas(`${p}throughput`));
  if (run.resources !== null) parts.push("<h3>Resources</h3>", canvas(`${p}resources`));
  if (run.tests.length > 0) {
    parts.push(
      "<h3>llama-bench-style tests</h3>",
      canvas(`${p}tests`),
      table(
        ["test", "t/s", "± stddev", "repetitions", "engine t/s", "ceiling t/s", "efficiency %"],
        run.tests.map((t) => [
          t.name,
          formatNumber(t.avg_ts),
          formatNumber(t.stddev_ts),
          t.samples.map((s) => formatNumber(s)).join(", "),
          formatNumber(t.engine_ts),
          formatNumber(t.ceiling_tps),
          formatNumber(t.efficiency_pct),
        ]),
        [false, true, true, false, true, true, true],
      ),
    );
  }
  if (run.server_vs_client.length > 0) parts.push("<h3>Client and server figures</h3>", canvas(`${p}server`));
  return `<section class="run">${parts.join("\n")}</section>`;
}

function hintsBlock(hints: { level: string; text: string }[]): string {
  if (hints.length === 0) return "";
  return `<h3>What the data suggests</h3>${hints.map((h) => `<div class="hint ${e(h.level)}">${e(h.text)}</div>`).join("")}`;
}

/** A table whose rows carry their own classes (the status column, the best row). */
function rowsTable(
  head: string[],
  rows: { cells: string[]; cls?: string[]; row?: string }[],
  numeric: boolean[] = [],
): string {
  const th = head.map((h, i) => `<th${numeric[i] ? ' class="n"' : ""}>${e(h)}</th>`).join("");
  const body = rows
    .map(
      (r) =>
        `<tr${r.row === undefined ? "" : ` class="${e(r.row)}"`}>${r.cells
          .map((c, i) => {
            const cls = [numeric[i] ? "n" : "", r.cls?.[i] ?? ""].filter((x) => x !== "").join(" ");
            return `<td${cls === "" ? "" : ` class="${e(cls)}"`}>${e(c)}</td>`;
          })
          .join("")}</tr>`,
    )
    .join("");
  return `<table><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}

function sweepSection(s: SweepReportData, index: number): string {
  const p = `s${index}-`;
  const parts: string[] = [];
  const c = s.counts;
  const best = s.cells.find((x) => x.index === s.best_cell) ?? null;
  parts.push(
    `<h2>Sweep <code>${e(s.sweep_id)}</code> <span class="status-${e(s.status)}">${e(s.status)}</span></h2>`,
    table(
      ["", ""],
      [
        ["started", s.started_at],
        ["ended", s.ended_at ?? "-"],
        ["status", s.status_reason === null ? s.status : `${s.status}: ${s.status_reason}`],
        ["tokbench", s.tool_version],
        [
          "objective",
          `${s.objective} (${s.objective_label}, ${s.objective_unit}, ${s.higher_is_better ? "higher" : "lower"} is better)`,
        ],
        [
          "cells",
          `${s.cells.length} of ${s.planned_cells} finished: ${c.feasible} feasible, ${c.infeasible} infeasible, ${c.failed} failed, ${c.skipped} skipped, ${c.wont_fit} won't fit`,
        ],
        [
          "best cell",
          best === null
            ? "none feasible"
            : `#${best.index} ${best.label}: ${formatNumber(best.value)} ${s.objective_unit}`,
        ],
        ...s.axes.map((a): [string, string] => [
          `axis ${a.name} (${a.kind})`,
          a.values.map(String).join(", "),
        ]),
        ...s.fixed.map(([n, v]): [string, string] => [`${n} (fixed)`, v]),
        ...s.setup,
      ],
    ),
    s.machine === null ? "" : `<h3>Machine</h3>${table(["", ""], s.machine)}`,
    hintsBlock(s.hints),
  );
  if (s.heatmap !== null) {
    const h = s.heatmap;
    parts.push(
      `<h3>${e(s.objective_label)} by ${e(h.x_axis)} and ${e(h.y_axis)}</h3>`,
      `<p class="muted legend"><span style="background:#22c55e33">coloured: feasible, by ${e(s.objective_unit)} (${s.higher_is_better ? "darker is better" : "darker is lower"})</span><span style="background:#e5e7eb">grey, hatched: not feasible (the reason on hover)</span>${h.folded.length > 0 ? ` Each tile shows the best feasible cell over ${e(h.folded.join(", "))} (its value after @).` : ""}</p>`,
      canvas(`${p}heatmap`, true),
    );
  }
  if (s.curves !== null) {
    parts.push(
      `<h3>Throughput and TTFT p95 against ${e(s.curves.x_axis)}</h3>`,
      `<div class="grid">${canvas(`${p}tps`, true)}${canvas(`${p}ttft`, true)}</div>`,
      s.curves.omitted > 0 ? `<p class="muted">${s.curves.omitted} more series not drawn.</p>` : "",
    );
  }
  if (s.pareto.points.length > 0) {
    parts.push(
      "<h3>Throughput against latency</h3>",
      canvas(`${p}pareto`, true),
      `<p class="muted">The line joins the Pareto front: feasible cells that no other feasible cell beats on both throughput and TTFT p95 (${s.pareto.front.length} of ${s.pareto.points.filter((x) => x.feasible).length}).</p>`,
    );
  }
  parts.push(
    "<h3>Cells</h3>",
    `<div class="scroll">${rowsTable(
      [
        "#",
        "cell",
        "status",
        `${s.objective} (${s.objective_unit})`,
        "output tok/s",
        "TTFT p95 ms",
        "ITL p95 ms",
        "req/s",
        "replicates",
        "why not feasible",
        "runs",
      ],
      s.cells.map((x) => ({
        cells: [
          String(x.index),
          x.label,
          x.status,
          formatNumber(x.value),
          formatNumber(x.output_tokens_per_s),
          formatNumber(x.ttft_p95_ms),
          formatNumber(x.itl_p95_ms),
          formatNumber(x.requests_per_s),
          String(x.replicates),
          x.reason ?? "",
          x.run_ids.map((id) => id.slice(0, 8)).join(" "),
        ],
        cls: ["", "", `cell-${x.status}`],
        ...(x.index === s.best_cell ? { row: "best" } : {}),
      })),
      [true, false, false, true, true, true, true, true, true, false, false],
    )}</div>`,
  );
  return `<section class="run sweep">${parts.join("\n")}</section>`;
}

function tuneSection(t: TuneReportData, index: number): string {
  const p = `t${index}-`;
  const parts: string[] = [];
  const r = t.recommendation;
  parts.push(
    `<h2>Tune <code>${e(t.tune_id)}</code> <span class="status-${e(t.status)}">${e(t.status)}</span></h2>`,
    table(
      ["", ""],
      [
        ["started", t.started_at],
        ["ended", t.ended_at ?? "-"],
        ["stopped because", [t.exit_reason, t.exit_detail].filter((x) => x !== null).join(": ") || "-"],
        ["tokbench", t.tool_version],
        [
          "objective",
          `${t.objective} (${t.objective_unit}, ${t.higher_is_better ? "higher" : "lower"} is better)`,
        ],
        ["trials", String(t.trials.length)],
        ...t.setup,
      ],
    ),
    t.machine === null ? "" : `<h3>Machine</h3>${table(["", ""], t.machine)}`,
  );
  parts.push("<h3>Recommendation</h3>");
  if (r === null) {
    parts.push("<p>No recipe stored: the tune had not finished.</p>");
  } else {
    parts.push(
      table(
        ["", ""],
        [
          ["model", r.model ?? "-"],
          ["knobs", r.knobs ?? "nothing feasible found"],
          [
            `${t.objective} (${t.objective_unit})`,
            `${formatNumber(r.value)}${r.trial === null ? "" : ` (trial ${r.trial})`}; baseline ${formatNumber(r.baseline_value)}${r.gain === null ? "" : `; gain ${(r.gain * 100).toFixed(1)} %`}`,
          ],
          ["recipe_hash", r.recipe_hash ?? "-"],
          ...r.env.map(([k, v]): [string, string] => [`env ${k}`, v]),
        ],
      ),
      r.command === null ? "" : `<h3>Server command line</h3><pre class="cmd">${e(r.command)}</pre>`,
      r.bench_command === null ? "" : `<h3>Measure it again</h3><pre class="cmd">${e(r.bench_command)}</pre>`,
      r.drift_warning === null ? "" : `<div class="hint warning">${e(r.drift_warning)}</div>`,
      r.rejected.length === 0
        ? ""
        : `<h3>Candidates rejected</h3>${table(
            ["model", "verdict", "reason"],
            r.rejected.map((x) => [x.model, x.verdict, x.reason]),
          )}`,
    );
  }
  if (t.trials.length > 0) parts.push("<h3>Best so far</h3>", canvas(`${p}progress`));
  parts.push(
    "<h3>Trials</h3>",
    `<div class="scroll">${rowsTable(
      [
        "#",
        "stage",
        "kind",
        "knobs",
        "status",
        `value (${t.objective_unit})`,
        "spread",
        "replicates",
        "TTFT p95 ms",
        "best so far",
        "why not feasible",
      ],
      t.trials.map((x) => ({
        cells: [
          String(x.index),
          x.stage,
          x.kind,
          x.knobs,
          x.failure === null ? x.status : `${x.status} (${x.failure})`,
          formatNumber(x.value),
          x.spread === null ? "-" : `${(x.spread * 100).toFixed(1)} %`,
          x.replicates.map((m) => (m.status === "ok" ? formatNumber(m.value) : m.status)).join(", "),
          formatNumber(x.ttft_p95_ms),
          formatNumber(x.best_so_far),
          x.reason ?? "",
        ],
        cls: ["", "", "", "", `cell-${x.status}`],
        ...(r !== null && x.index === r.trial ? { row: "best" } : {}),
      })),
      [true, false, false, false, false, true, true, false, true, true, false],
    )}</div>`,
  );
  return `<section class="run tune">${parts.join("\n")}</section>`;
}

function comparisonSection(c: Comparison): string {
  const letters = c.runs.map((_, i) => String.fromCharCode(65 + i));
  const head = ["", ...letters];
  for (const l of letters.slice(1)) head.push(`${l}/A`, "95 % interval", "p", "verdict");
  const rows = c.rows.map((r) => {
    const cells = [
      `${r.name} ${r.stat}${r.section === "requests" ? ` (${r.unit})` : ""}`,
      ...r.values.map((v) => formatNumber(v)),
    ];
    for (const x of r.comparisons) {
      cells.push(
        x.ratio === null ? "-" : x.ratio.toFixed(3),
        x.low === null || x.high === null ? "-" : `${x.low.toFixed(3)} – ${x.high.toFixed(3)}`,
        x.test === null ? "-" : x.test.p_value < 0.001 ? "<0.001" : x.test.p_value.toFixed(3),
        x.verdict,
      );
    }
    return cells;
  });
  const runs = c.runs.map((r, i) => [
    letters[i] as string,
    r.run_id,
    r.started_at,
    r.model ?? "-",
    r.workload ?? "-",
    r.hostname,
  ]);
  const diffs = c.differences.map((d) => [d.kind, d.field, d.values.join(" | ")]);
  return `<section class="run"><h2>Comparison</h2>${table(["", "run", "started", "model", "workload", "host"], runs)}
<h3>Differences besides the results</h3>${diffs.length === 0 ? "<p>none: same machine, engine, model, workload and configuration</p>" : table(["kind", "what", "values"], diffs)}
<h3>Figures</h3>${canvas("comparison", true)}${table(head, rows)}
<p class="muted">Verdicts at p &lt; ${e(c.alpha)}: repetitions by ${c.repetition_test === "welch" ? "Welch's t-test" : "Mann-Whitney U"}, request medians by Mann-Whitney U over the stored distributions, upper percentiles by their order-statistic intervals. Intervals: bootstrap of the ratio of means (repetitions), order statistics (percentiles).</p></section>`;
}

/**
 * The report as one self-contained HTML file: Chart.js and the page script inlined, the data in a
 * JSON script element, no external resource of any kind. A Content-Security-Policy allows only the
 * page's own two scripts (by their SHA-256), no connection and no remote image, so even a string
 * that escaped escaping could neither run nor call out. Every string from a run goes through
 * `escapeHtml` (markup) or `jsonForScript` (data).
 */
export function renderReportHtml(data: ReportData): string {
  const library = chartLibrary();
  const dataJson = jsonForScript(data);
  const hash = (text: string): string => `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
  const csp = `default-src 'none'; script-src ${hash(library)} ${hash(REPORT_SCRIPT)}; style-src 'unsafe-inline'; img-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'`;
  const what = [
    [data.runs.length, "run"],
    [data.sweeps.length, "sweep"],
    [data.tunes.length, "tune"],
  ] as const;
  const title =
    data.runs.length === 1 && data.sweeps.length === 0 && data.tunes.length === 0
      ? `tokbench report: ${data.runs[0]?.model ?? "run"} (${data.runs[0]?.run_id.slice(0, 8)})`
      : data.runs.length === 0 && data.sweeps.length + data.tunes.length === 1
        ? `tokbench report: ${data.sweeps.length === 1 ? `sweep ${data.sweeps[0]?.sweep_id.slice(0, 8)}` : `tune ${data.tunes[0]?.tune_id.slice(0, 8)}`}`
        : `tokbench report: ${what
            .filter(([n]) => n > 0)
            .map(([n, w]) => `${n} ${w}${n === 1 ? "" : "s"}`)
            .join(", ")}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(csp)}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title><style>${STYLE}</style></head>
<body><header class="page"><h1>${e(title)}</h1><div>generated ${e(data.generated_at)} by tokbench ${e(data.tool_version)}</div></header>
<main>
${data.comparison === null ? "" : comparisonSection(data.comparison)}
${data.runs.map(runSection).join("\n")}
${data.sweeps.map(sweepSection).join("\n")}
${data.tunes.map(tuneSection).join("\n")}
</main>
<script type="application/json" id="report-data">${dataJson}</script>
<script>${library}</script>
<script>${REPORT_SCRIPT}</script>
</body></html>
`;
}
