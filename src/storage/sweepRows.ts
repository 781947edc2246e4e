import { hostname } from "node:os";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { CellResult, ReplicateResult } from "../results/SweepResult.js";
import type { SweepCellsTable, SweepRunsTable, SweepsTable } from "./DatabaseSchema.js";
import type { StoredSweep, SweepListEntry } from "./SweepStore.js";
import { processAlive } from "./tableWrites.js";

/** The row of a sweep that starts (status `running`, written by this process), in either store. */
export function sweepRow(input: {
  sweep_id: string;
  tool_version: string;
  started_at: string;
  spec: unknown;
  planned_cells: number;
}): SweepsTable {
  return {
    id: input.sweep_id,
    tool_version: input.tool_version,
    started_at: input.started_at,
    ended_at: null,
    status: "running",
    status_reason: null,
    spec_json: JSON.stringify(input.spec),
    planned_cells: input.planned_cells,
    timing_json: null,
    writer_pid: process.pid,
    writer_hostname: hostname(),
  };
}

/** The row a measured replicate of a cell is stored as, in either store. */
export function replicateRow(sweepId: string, cellKey: string, replicate: ReplicateResult): SweepRunsTable {
  return {
    sweep_id: sweepId,
    cell_key: cellKey,
    replicate: replicate.replicate,
    run_id: replicate.run_id,
    feasible: replicate.feasible ? 1 : 0,
    errors: replicate.errors ? 1 : 0,
    reason: replicate.reason,
    figures_json: JSON.stringify(replicate.figures),
    checks_json: JSON.stringify(replicate.checks),
    notes_json: JSON.stringify(replicate.notes),
  };
}

/** The row a finished cell is stored as, in either store. */
export function cellRow(sweepId: string, cell: CellResult): SweepCellsTable {
  return {
    sweep_id: sweepId,
    cell_key: cell.key,
    idx: cell.index,
    knobs_json: JSON.stringify(cell.knobs),
    workload_json: JSON.stringify(cell.workload),
    status: cell.status,
    reason: cell.reason,
    failure: cell.failure,
    memory_failure: cell.memory_failure ? 1 : 0,
    notes_json: JSON.stringify(cell.notes),
    summary_json: cell.summary === null ? null : JSON.stringify(cell.summary),
    run_id: cell.run_id,
    skipped_because: cell.skipped_because,
    log_path: cell.log_path,
    finished_at: new Date().toISOString(),
  };
}

/**
 * A sweep's finished cells and the replicates of its unfinished ones, from its `sweep_cells` rows
 * (in run order) and `sweep_runs` rows (by cell key, then replicate), as either store reads them.
 */
export function cellsFromRows(
  cellRows: readonly SweepCellsTable[],
  runRows: readonly SweepRunsTable[],
): { cells: CellResult[]; pending_replicates: Map<string, ReplicateResult[]> } {
  const replicates = new Map<string, ReplicateResult[]>();
  for (const r of runRows) {
    const list = replicates.get(r.cell_key) ?? [];
    list.push({
      replicate: r.replicate,
      run_id: r.run_id,
      feasible: r.feasible === 1,
      errors: r.errors === 1,
      reason: r.reason,
      figures: JSON.parse(r.figures_json),
      checks: JSON.parse(r.checks_json),
      notes: JSON.parse(r.notes_json),
    });
    replicates.set(r.cell_key, list);
  }
  const cells = cellRows.map((c): CellResult => {
    const reps = replicates.get(c.cell_key) ?? [];
    replicates.delete(c.cell_key);
    return {
      index: c.idx,
      key: c.cell_key,
      knobs: JSON.parse(c.knobs_json),
      workload: JSON.parse(c.workload_json),
      status: c.status,
      reason: c.reason,
      failure: c.failure,
      memory_failure: c.memory_failure === 1,
      notes: JSON.parse(c.notes_json),
      run_id: c.run_id,
      run_ids: reps.map((r) => r.run_id),
      summary: c.summary_json === null ? null : JSON.parse(c.summary_json),
      replicates: reps,
      skipped_because: c.skipped_because,
      log_path: c.log_path,
    };
  });
  return { cells, pending_replicates: replicates };
}

/**
 * A sweep's status as read back, in either store. A sweep queued for workers (PostgreSQL) is
 * `running` until its last cell is done, whoever created it and whether that process still lives.
 * A sweep without a queue is `incomplete` when its writer, a process of this machine, is gone.
 */
export function sweepStatus(
  row: Pick<SweepsTable, "status" | "writer_pid" | "writer_hostname">,
  queued: boolean,
): StoredSweep["status"] {
  return row.status === "running" &&
    !queued &&
    row.writer_hostname === hostname() &&
    !processAlive(row.writer_pid)
    ? "incomplete"
    : row.status;
}

/**
 * `SWEEP_NOT_FOUND` for `ref` in the database shown as `where`: none, or (`matches` > 1)
 * ambiguous; `context` says where (`path` or `url`).
 */
export function sweepNotFound(
  ref: string,
  where: string,
  matches: number,
  context: { path: string } | { url: string },
): TokbenchError {
  return new TokbenchError(
    "SWEEP_NOT_FOUND",
    matches > 1 ? `sweep id "${ref}" is ambiguous in ${where}` : `no sweep "${ref}" in ${where}`,
    { context: { sweep_id: ref, ...context } },
  );
}

/** A sweep read back from its rows, in either store (`queued`: it has a work queue). */
export function storedSweep(
  row: SweepsTable,
  cellRows: readonly SweepCellsTable[],
  runRows: readonly SweepRunsTable[],
  queued: boolean,
): StoredSweep {
  const { cells, pending_replicates } = cellsFromRows(cellRows, runRows);
  return {
    sweep_id: row.id,
    tool_version: row.tool_version,
    started_at: row.started_at,
    ended_at: row.ended_at,
    status: sweepStatus(row, queued),
    status_reason: row.status_reason,
    spec: JSON.parse(row.spec_json),
    planned_cells: row.planned_cells,
    timing: row.timing_json === null ? null : JSON.parse(row.timing_json),
    cells,
    pending_replicates,
  };
}

/** One line of a sweep listing, in either store (`queued`: it has a work queue). */
export function sweepListEntry(
  row: SweepsTable & { finished_cells: number },
  queued: boolean,
): SweepListEntry {
  return {
    sweep_id: row.id,
    started_at: row.started_at,
    status: sweepStatus(row, queued),
    planned_cells: row.planned_cells,
    finished_cells: row.finished_cells,
  };
}
