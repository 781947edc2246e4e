import type { Comparison, ComparisonRow, RowComparison } from "../../compare/compareRuns.js";
import type { RegressionFinding, RegressionReport } from "../../compare/judgeRegression.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { createTable } from "../createTable.js";
import { formatNumber } from "../formatNumber.js";

/** Text from a run (model names, workloads, hosts): inert on a terminal and in Markdown. */
function safe(text: string, markdown: boolean): string {
  const plain = sanitizeText(text);
  return markdown ? plain.replace(/[\\`*_[\]|<>#]/g, (c) => `\\${c}`) : plain;
}

function ratioText(c: RowComparison): string {
  if (c.ratio === null) return "-";
  const ci = c.low !== null && c.high !== null ? ` [${c.low.toFixed(2)}, ${c.high.toFixed(2)}]` : "";
  return `${c.ratio.toFixed(3)}${ci}`;
}

function pText(c: RowComparison): string {
  if (c.test === null) return "-";
  return c.test.p_value < 0.001 ? "<0.001" : c.test.p_value.toFixed(3);
}

function rowLabel(row: ComparisonRow): string {
  return row.section === "tests" ? `${row.name} ${row.stat}` : `${row.name} ${row.stat} (${row.unit})`;
}

function lines(
  comparison: Comparison,
  markdown: boolean,
): { head: string[]; body: string[][]; notes: string[] } {
  const letters = comparison.runs.map((_, i) => String.fromCharCode(65 + (i % 26)));
  const notes = comparison.runs.map(
    (r, i) =>
      `${letters[i]}: ${r.run_id.slice(0, 8)} ${r.started_at.slice(0, 16).replace("T", " ")} ${safe(r.model ?? "-", markdown)} — ${safe(r.workload ?? "-", markdown)} on ${safe(r.hostname, markdown)}`,
  );
  const head = ["", ...letters];
  for (const letter of letters.slice(1)) head.push(`${letter}/A [95% CI]`, "p", "verdict");
  const body = comparison.rows.map((row) => {
    const cells = [safe(rowLabel(row), markdown), ...row.values.map((v) => formatNumber(v))];
    for (const c of row.comparisons) cells.push(ratioText(c), pText(c), c.verdict);
    return cells;
  });
  return { head, body, notes };
}

function differenceLines(comparison: Comparison, markdown: boolean): string[] {
  if (comparison.differences.length === 0)
    return ["no differences in machine, engine, model, workload or configuration"];
  return comparison.differences.map(
    (d) => `${d.kind} ${d.field}: ${d.values.map((v) => safe(v, markdown)).join(" | ")}`,
  );
}

/**
 * A comparison as a terminal table: the runs, what differs between them besides the results, then
 * one row per figure with each run's value, the ratio to the first run with its 95 % interval, the
 * test's p-value and the verdict.
 */
export function renderComparisonTable(comparison: Comparison): string {
  const { head, body, notes } = lines(comparison, false);
  const out = [...notes, "", "differences:", ...differenceLines(comparison, false).map((l) => `  ${l}`), ""];
  if (body.length === 0) out.push("no rows in common");
  else {
    const table = createTable({ head });
    for (const row of body) table.push(row);
    out.push(table.toString());
  }
  out.push(
    `verdicts: p < ${comparison.alpha}; repetitions by ${comparison.repetition_test === "welch" ? "Welch's t-test" : "Mann-Whitney U"}, request medians by Mann-Whitney U on the stored distributions, percentiles by their order-statistic intervals`,
  );
  return out.join("\n");
}

/** The same comparison as GitHub-flavoured Markdown, for a pull-request comment. */
export function renderComparisonMarkdown(comparison: Comparison): string {
  const { head, body, notes } = lines(comparison, true);
  const out = ["### tokbench compare", "", ...notes.map((n) => `- ${n}`), "", "**Differences**", ""];
  out.push(...differenceLines(comparison, true).map((l) => `- ${l}`), "");
  if (body.length > 0) {
    out.push(`| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? " --- " : " ---: ")).join("|")}|`);
    for (const row of body) out.push(`| ${row.join(" | ")} |`);
  } else out.push("_no rows in common_");
  out.push("", `_verdicts at p < ${comparison.alpha}_`);
  return out.join("\n");
}

function findingCells(f: RegressionFinding): string[] {
  return [
    f.rule,
    f.row,
    formatNumber(f.baseline),
    formatNumber(f.current),
    f.worse_pct === null ? "-" : `${f.worse_pct >= 0 ? "+" : ""}${f.worse_pct.toFixed(1)} %`,
    `${f.threshold_pct} %`,
    f.p_value === null ? "-" : f.p_value < 0.001 ? "<0.001" : f.p_value.toFixed(3),
    f.status,
  ];
}

const FINDING_HEAD = ["rule", "figure", "baseline", "current", "worse by", "threshold", "p", "status"];

/** A regression verdict for a CI log: the verdict line first, then every judged figure. */
export function renderRegressionText(report: RegressionReport): string {
  const out = [
    `tokbench regress: ${report.verdict.toUpperCase()} (exit ${report.exit_code}) — current ${report.current_run_id.slice(0, 8)} vs baseline ${report.baseline_run_id.slice(0, 8)}`,
  ];
  for (const r of report.reasons) out.push(`  ${safe(r, false)}`);
  if (report.findings.length > 0) {
    const table = createTable({ head: FINDING_HEAD });
    for (const f of report.findings) table.push(findingCells(f).map((c) => safe(c, false)));
    out.push(table.toString());
  }
  out.push(
    "(a regression is worse than its threshold AND significant; 'worse by' is a drop for rates, a rise for latencies)",
  );
  return out.join("\n");
}

/** The regression verdict as Markdown, for a pull-request comment. */
export function renderRegressionMarkdown(report: RegressionReport): string {
  const icon = report.verdict === "regression" ? "❌" : report.verdict === "no regression" ? "✅" : "⚠️";
  const out = [
    `### ${icon} tokbench regress: ${report.verdict}`,
    "",
    `current \`${report.current_run_id.slice(0, 8)}\` vs baseline \`${report.baseline_run_id.slice(0, 8)}\``,
    "",
  ];
  for (const r of report.reasons) out.push(`- ${safe(r, true)}`);
  if (report.findings.length > 0) {
    out.push("", `| ${FINDING_HEAD.join(" | ")} |`, `|${FINDING_HEAD.map(() => " --- ").join("|")}|`);
    for (const f of report.findings)
      out.push(
        `| ${findingCells(f)
          .map((c) => safe(c, true))
          .join(" | ")} |`,
      );
  }
  out.push("", "_A regression is worse than its threshold and statistically significant._");
  return out.join("\n");
}
