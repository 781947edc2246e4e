import { stripVTControlCharacters } from "node:util";
import type { RunResult } from "../../results/RunResult.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { createTable } from "../createTable.js";
import { formatBandwidth, formatBytes, formatMeanSpread, formatParameters } from "../units.js";
import { TERMINAL_WIDTH, wrapLines } from "../wrapText.js";
import { renderResources } from "./renderResources.js";

/** Widest table the terminal output aims for: fits a 100-column terminal. */
export const TABLE_MAX_WIDTH = TERMINAL_WIDTH;

/**
 * A knob of the tests table: its column header (llama-bench's short flag, explained in the
 * footnote), what the footnote says, and how a row shows its value.
 */
interface KnobColumn {
  header: string;
  meaning: string;
  /** Key in `config.knobs` (the lists the run swept), when the knob has one. */
  knob: string | null;
  value: (row: Record<string, unknown>) => string;
}

const KNOB_COLUMNS: readonly KnobColumn[] = [
  { header: "t", meaning: "threads", knob: "threads", value: (r) => String(r.n_threads) },
  { header: "b", meaning: "n_batch", knob: "batch_size", value: (r) => String(r.n_batch) },
  { header: "ub", meaning: "n_ubatch", knob: "ubatch_size", value: (r) => String(r.n_ubatch) },
  {
    header: "ctx",
    meaning: "context cells per sequence",
    knob: "ctx_size",
    value: (r) => String(r.n_ctx ?? "-"),
  },
  { header: "ngl", meaning: "layers on the GPU", knob: "gpu_layers", value: (r) => String(r.n_gpu_layers) },
  {
    header: "fa",
    meaning: "flash attention",
    knob: "flash_attn",
    value: (r) => (r.flash_attn === true ? "1" : r.flash_attn === false ? "0" : String(r.flash_attn)),
  },
  { header: "ctk", meaning: "K cache type", knob: "type_k", value: (r) => String(r.type_k) },
  { header: "ctv", meaning: "V cache type", knob: "type_v", value: (r) => String(r.type_v) },
  { header: "np", meaning: "parallel sequences", knob: "parallel", value: (r) => String(r.n_parallel) },
  { header: "loop", meaning: "decode loop", knob: null, value: (r) => String(r.decode_loop) },
];

const num = (x: unknown, digits: number): string =>
  typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "-";

/** Width of a rendered table: its longest line. */
function widthOf(text: string): number {
  let max = 0;
  for (const line of text.split("\n")) max = Math.max(max, stripVTControlCharacters(line).length);
  return max;
}

/**
 * Renders `tests[]` for a terminal: one line with the model and every knob that is the same in all
 * rows, a table with a row per test and a column per knob that varies (every swept knob, even one
 * whose values happen to coincide), llama.cpp's own rate and the roofline efficiency, a footnote
 * for the abbreviations, then failures and model load times. Fits {@link TABLE_MAX_WIDTH} columns:
 * when the varying knobs are too many for a column each, they share one `config` column.
 */
export function renderEmbeddedTable(result: RunResult): string {
  const rows = result.tests.filter((r) => r.test !== "load");
  const loads = result.tests.filter((r) => r.test === "load");
  if (rows.length === 0 && loads.length === 0) return "";
  const lines: string[] = [];
  const swept = sweptKnobs(result.config);
  const varying = KNOB_COLUMNS.filter(
    (c) => (c.knob !== null && swept.has(c.knob)) || new Set(rows.map(c.value)).size > 1,
  );
  const constant = KNOB_COLUMNS.filter((c) => !varying.includes(c) && rows.length > 0);

  const first = rows[0];
  if (first !== undefined) {
    const fixed = constant.map((c) => `${c.header}=${c.value(first)}`).join(" ");
    lines.push(
      ...wrapLines(
        `${String(first.backends)}, ${formatParameters(first.model_n_params as number)} params ` +
          `(${formatBytes(first.model_size as number)})${fixed === "" ? "" : `: ${fixed}`}`,
        TABLE_MAX_WIDTH,
      ),
    );
  }

  const repetitions = Math.max(
    0,
    ...rows.map((r) => (Array.isArray(r.samples_ts) ? r.samples_ts.length : 0)),
  );
  const failures: string[] = [];
  const build = (knobCells: "columns" | "config" | "none", configWidth?: number): string => {
    const knobHeads =
      knobCells === "columns" ? varying.map((c) => c.header) : knobCells === "config" ? ["config"] : [];
    const table = createTable(
      {
        head: ["test", ...knobHeads, "t/s", "engine t/s", "eff %"],
        colAligns: ["left", ...knobHeads.map(() => "left" as const), "right", "right", "right"],
        // No rule between rows: a row per test reads as a list, at half the height.
        chars: { mid: "", "left-mid": "", "mid-mid": "", "right-mid": "" },
        // The config column wraps within its width; the others size to their content.
        ...(configWidth === undefined
          ? {}
          : { colWidths: [null, configWidth, null, null, null] as unknown as number[], wordWrap: true }),
      },
      // This table fits 100 columns its own way (the knobs folded into one column), from its
      // natural width.
      { fit: false },
    );
    for (const r of rows) {
      const ok = r.status === "ok";
      const knobs =
        knobCells === "columns"
          ? varying.map((c) => c.value(r))
          : knobCells === "config"
            ? [varying.map((c) => `${c.header}=${c.value(r)}`).join(" ")]
            : [];
      const samples = Array.isArray(r.samples_ts) ? r.samples_ts.length : 0;
      table.push([
        String(r.test),
        ...knobs,
        ok ? formatMeanSpread(r.avg_ts as number, r.stddev_ts as number, samples, 2) : "failed",
        ok ? `${num(r.engine_ts, 2)}${r.engine_mismatch === true ? " !" : ""}` : "-",
        num(r.efficiency_pct, 1),
      ]);
    }
    return table.toString();
  };
  if (rows.length > 0) {
    let table = build(varying.length > 0 ? "columns" : "none");
    if (widthOf(table) > TABLE_MAX_WIDTH && varying.length > 1) {
      // One wrapping column for the knobs, as wide as the rest of the table leaves (a cell's
      // padding and border take 3 characters).
      const others = widthOf(build("none"));
      table = build("config", Math.max(16, TABLE_MAX_WIDTH - others - 3));
    }
    lines.push(table);
    for (const r of rows) {
      if (r.status === "ok") continue;
      const where = varying.map((c) => `${c.header}=${c.value(r)}`).join(" ");
      // llama.cpp's and the engine's messages may quote the model file: sanitised.
      failures.push(
        `failed: ${String(r.test)}${where === "" ? "" : ` (${where})`}: ${sanitizeText(String(r.error ?? ""))}`,
      );
    }
    lines.push(...footnote([...constant, ...varying], repetitions, rows, result.config));
    lines.push(...failures);
  }
  for (const l of loads) {
    lines.push(
      l.status === "ok"
        ? `model load (ngl ${String(l.n_gpu_layers)}): first ${num(l.load_cold_ms, 0)} ms, second (page cache hot) ${num(l.load_warm_ms, 0)} ms`
        : `model load (ngl ${String(l.n_gpu_layers)}) failed: ${sanitizeText(String(l.error))}`,
    );
  }
  // A run with requests shows what was sampled under its request summary; a tests-only run here.
  if (result.requests.length === 0) {
    const resources = renderResources(result);
    if (resources !== "") lines.push(resources);
  }
  return lines.join("\n");
}

/** The knobs given as lists of two or more values (`config.knobs`, after defaults). */
function sweptKnobs(config: Record<string, unknown>): Set<string> {
  const knobs = (config.knobs ?? {}) as Record<string, unknown>;
  return new Set(
    Object.entries(knobs)
      .filter(([, v]) => Array.isArray(v) && v.length > 1)
      .map(([k]) => k),
  );
}

/**
 * When eff % rests on a bandwidth probed on an overloaded machine (`config.roofline_bandwidth`):
 * the probe's threads waited for a core, so the ceiling is likely low and eff % high.
 */
function loadedProbeNote(config: Record<string, unknown>, rows: readonly Record<string, unknown>[]): string {
  const bandwidth = config.roofline_bandwidth as
    | { bytes_per_second?: number; load_average_over_cpus?: { load_average: number; cpus: number } | null }
    | undefined;
  const load = bandwidth?.load_average_over_cpus;
  if (load == null || !rows.some((r) => typeof r.efficiency_pct === "number")) return "";
  return (
    ` The memory bandwidth (${formatBandwidth(bandwidth?.bytes_per_second)}) was probed with the machine loaded ` +
    `(load average ${load.load_average.toFixed(1)} on ${load.cpus} CPUs): the ceiling is likely low and eff % high; ` +
    "it is probed again on the next run."
  );
}

/** What the columns and abbreviations mean, only for those shown, wrapped to the table width. */
function footnote(
  shown: readonly KnobColumn[],
  repetitions: number,
  rows: readonly Record<string, unknown>[],
  config: Record<string, unknown>,
): string[] {
  const spread =
    repetitions >= 2
      ? `mean ± standard deviation of ${repetitions} repetitions`
      : "one repetition, no spread";
  const mismatch = rows.some((r) => r.engine_mismatch === true)
    ? " (! = more than 10 % apart: time spent outside the engine)"
    : "";
  const text =
    `t/s: tokens per second, ${spread}. engine t/s: llama.cpp's own counters over the same span${mismatch}. ` +
    "eff %: t/s as a share of the roofline decode ceiling (tg rows; - when the model fits in the CPU cache)." +
    loadedProbeNote(config, rows) +
    (shown.length > 0
      ? ` ${KNOB_COLUMNS.filter((c) => shown.includes(c))
          .map((c) => `${c.header}: ${c.meaning}`)
          .join(", ")}.`
      : "");
  return wrapLines(text, TABLE_MAX_WIDTH);
}
