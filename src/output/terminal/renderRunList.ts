import type { RunListItem } from "../../storage/RunHistory.js";
import type { StoredSweep, SweepListEntry } from "../../storage/SweepStore.js";
import type { StoredTune, TuneListEntry } from "../../storage/TuneStore.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { createTable } from "../createTable.js";
import { formatNumber } from "../formatNumber.js";

/** Characters of a run id shown in lists: enough to be unique in any real database, and accepted back as a prefix. */
export const SHORT_ID_LENGTH = 8;

/** `2025-01-02 03:04` in local time. */
function when(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The file name of a model path, or the served model's name. */
function modelName(model: string | null): string {
  if (model === null) return "-";
  const base = model.split(/[\\/]/).pop() ?? model;
  return base.length > 40 ? `${base.slice(0, 39)}…` : base;
}

function headline(run: RunListItem): string {
  const h = run.headline;
  if (h === null) return "-";
  const parts: string[] = [];
  if (h.pp_ts !== null) parts.push(`pp ${formatNumber(h.pp_ts)} t/s`);
  if (h.tg_ts !== null) parts.push(`tg ${formatNumber(h.tg_ts)} t/s`);
  if (h.ttft_p50_ms !== null) parts.push(`TTFT ${formatNumber(h.ttft_p50_ms)} ms`);
  if (h.itl_p50_ms !== null) parts.push(`ITL ${formatNumber(h.itl_p50_ms)} ms`);
  if (h.output_tokens_per_s !== null) parts.push(`${formatNumber(h.output_tokens_per_s)} tok/s`);
  return parts.join(", ") || "-";
}

/**
 * The stored runs as a terminal table, newest first: short id, when, target and model, workload,
 * status, requests, the headline figures (medians) and tags; then how many more matched.
 */
export function renderRunList(runs: readonly RunListItem[], total: number): string {
  if (runs.length === 0) return total === 0 ? "no runs stored" : `no runs shown (${total} match)`;
  const table = createTable({
    head: ["run", "when", "target", "model", "workload", "status", "requests", "headline (p50)", "tags"],
  });
  for (const run of runs) {
    table.push([
      run.run_id.slice(0, SHORT_ID_LENGTH),
      when(run.started_at),
      sanitizeText(run.target_kind ?? "-"),
      sanitizeText(modelName(run.model)),
      sanitizeText(run.workload ?? "-"),
      run.status,
      run.requests === 0
        ? "-"
        : run.failed_requests > 0
          ? `${run.requests} (${run.failed_requests} failed)`
          : String(run.requests),
      headline(run),
      sanitizeText(run.tags.join(", ")),
    ]);
  }
  const more = total - runs.length;
  return more > 0
    ? `${table.toString()}\n… ${more} older run${more === 1 ? "" : "s"} (--limit 0 shows all)`
    : table.toString();
}

/** The stored sweeps as a terminal table, newest first: short id, when, status, cells finished of planned. */
export function renderSweepList(sweeps: readonly SweepListEntry[]): string {
  if (sweeps.length === 0) return "no sweeps stored";
  const table = createTable({ head: ["sweep", "when", "status", "cells"] });
  for (const s of sweeps) {
    table.push([
      s.sweep_id.slice(0, SHORT_ID_LENGTH),
      when(s.started_at),
      s.status,
      `${s.finished_cells} of ${s.planned_cells}`,
    ]);
  }
  return table.toString();
}

/** The stored tunes as a terminal table, newest first: short id, when, status, trials, why it stopped. */
export function renderTuneList(tunes: readonly TuneListEntry[]): string {
  if (tunes.length === 0) return "no tunes stored";
  const table = createTable({ head: ["tune", "when", "status", "trials", "stopped because"] });
  for (const t of tunes) {
    table.push([
      t.tune_id.slice(0, SHORT_ID_LENGTH),
      when(t.started_at),
      t.status,
      String(t.trials),
      sanitizeText(t.exit_reason ?? "-"),
    ]);
  }
  return table.toString();
}

/** A stored sweep for `tokbench show SWEEP`: its header, then one line per finished cell. */
export function renderStoredSweep(sweep: StoredSweep): string {
  const head = `sweep ${sweep.sweep_id} (${sweep.status}${sweep.status_reason === null ? "" : `: ${sanitizeText(sweep.status_reason)}`}) started ${sweep.started_at}: ${sweep.cells.length} of ${sweep.planned_cells} cells finished`;
  if (sweep.cells.length === 0) return head;
  const table = createTable({ head: ["#", "cell", "status", "why not feasible", "runs"] });
  for (const c of sweep.cells) {
    table.push([
      String(c.index),
      sanitizeText(c.key),
      c.status,
      sanitizeText(c.reason ?? "-"),
      c.run_ids.map((id) => id.slice(0, SHORT_ID_LENGTH)).join(" ") || "-",
    ]);
  }
  return `${head}\n${table.toString()}`;
}

/** A stored tune for `tokbench show TUNE`: its header, then one line per trial. */
export function renderStoredTune(tune: StoredTune): string {
  const head = `tune ${tune.tune_id} (${tune.status}) started ${tune.started_at}: ${tune.trials.length} trials${tune.exit_reason === null ? "" : `, stopped because ${sanitizeText(tune.exit_reason)}`}`;
  if (tune.trials.length === 0) return head;
  const table = createTable({ head: ["#", "stage", "configuration", "status", "value", "TTFT p95 ms"] });
  for (const t of tune.trials) {
    table.push([
      String(t.index),
      t.stage,
      sanitizeText(
        Object.entries(t.configuration)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(" "),
      ),
      t.status,
      t.value === null ? "-" : formatNumber(t.value),
      t.ttft_p95_ms === null ? "-" : formatNumber(t.ttft_p95_ms),
    ]);
  }
  return `${head}\n${table.toString()}`;
}
