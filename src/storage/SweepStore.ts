import { hostname } from "node:os";
import type Database from "better-sqlite3";
import type { CellResult, ReplicateResult, SweepStatus } from "../results/SweepResult.js";
import type { SweepCellsTable, SweepRunsTable, SweepsTable } from "./DatabaseSchema.js";
import { cellRow, replicateRow, storedSweep, sweepListEntry, sweepNotFound, sweepRow } from "./sweepRows.js";
import { insertSql, rowByIdOrPrefix, writeOrFail } from "./tableWrites.js";

/** A sweep read back: its row, its finished cells and their replicates. */
export interface StoredSweep {
  sweep_id: string;
  tool_version: string;
  started_at: string;
  ended_at: string | null;
  /** `incomplete` when the process writing it died before it ended. */
  status: SweepStatus | "incomplete";
  status_reason: string | null;
  /** The spec as stored (parse with the sweep's own types). */
  spec: unknown;
  planned_cells: number;
  timing: unknown;
  /** Finished cells, in run order. */
  cells: CellResult[];
  /** Replicates stored for cells not yet finished (a sweep interrupted mid-cell), by cell key. */
  pending_replicates: Map<string, ReplicateResult[]>;
}

/** One line of {@link SweepStore.list}. */
export interface SweepListEntry {
  sweep_id: string;
  started_at: string;
  status: SweepStatus | "incomplete";
  planned_cells: number;
  finished_cells: number;
}

/**
 * The sweep tables of a tokbench database (`RunStore.sweeps()`): a sweep's row when it starts,
 * each replicate as it is measured (linked to its run), each cell once it is finished, and the
 * sweep's end. Each call commits on its own, so a sweep killed at any moment keeps every finished
 * cell and replicate, and `--resume` measures none of them again.
 */
export class SweepStore {
  constructor(
    private readonly db: Database.Database,
    private readonly path: string,
  ) {}

  private write<T>(what: string, action: () => T): T {
    return writeOrFail(this.path, what, action);
  }

  /** Records a sweep that starts, with status `running`. */
  begin(input: {
    sweep_id: string;
    tool_version: string;
    started_at: string;
    spec: unknown;
    planned_cells: number;
  }): void {
    const row = sweepRow(input);
    this.write(`begin sweep ${input.sweep_id}`, () =>
      this.db.prepare<SweepsTable>(insertSql("sweeps")).run(row),
    );
  }

  /** Marks a stored sweep as running again in this process (`--resume`). */
  resume(sweepId: string): void {
    this.write(`resume sweep ${sweepId}`, () =>
      this.db
        .prepare(
          "UPDATE sweeps SET status = 'running', status_reason = NULL, ended_at = NULL, writer_pid = ?, writer_hostname = ? WHERE id = ?",
        )
        .run(process.pid, hostname(), sweepId),
    );
  }

  /** Stores one measured replicate of a cell. */
  addReplicate(sweepId: string, cellKey: string, replicate: ReplicateResult): void {
    const row = replicateRow(sweepId, cellKey, replicate);
    this.write(`store replicate ${replicate.replicate} of a cell of sweep ${sweepId}`, () =>
      this.db.prepare<SweepRunsTable>(insertSql("sweep_runs")).run(row),
    );
  }

  /** Stores a finished cell (its replicates were stored as they finished). */
  addCell(sweepId: string, cell: CellResult): void {
    const row = cellRow(sweepId, cell);
    this.write(`store cell ${cell.index} of sweep ${sweepId}`, () =>
      this.db.prepare<SweepCellsTable>(insertSql("sweep_cells")).run(row),
    );
  }

  /** Records how the sweep ended. */
  finish(
    sweepId: string,
    status: Exclude<SweepStatus, "running">,
    reason: string | null,
    timing: unknown,
  ): void {
    this.write(`finish sweep ${sweepId}`, () =>
      this.db
        .prepare(
          "UPDATE sweeps SET status = ?, status_reason = ?, ended_at = ?, timing_json = ? WHERE id = ?",
        )
        .run(status, reason, new Date().toISOString(), JSON.stringify(timing), sweepId),
    );
  }

  /**
   * Reads a sweep back. A sweep id may be abbreviated to a unique prefix (8 characters or more).
   * @throws TokbenchError `SWEEP_NOT_FOUND`.
   */
  get(sweepIdOrPrefix: string): StoredSweep {
    const rows = this.db
      .prepare<{ id: string }, SweepsTable>(
        "SELECT * FROM sweeps WHERE id = @id OR (length(@id) >= 8 AND substr(id, 1, length(@id)) = @id)",
      )
      .all({ id: sweepIdOrPrefix });
    const row = rowByIdOrPrefix(rows, sweepIdOrPrefix);
    if (row === undefined) throw sweepNotFound(sweepIdOrPrefix, this.path, rows.length, { path: this.path });
    const runRows = this.db
      .prepare<[string], SweepRunsTable>(
        "SELECT * FROM sweep_runs WHERE sweep_id = ? ORDER BY cell_key, replicate",
      )
      .all(row.id);
    const cellRows = this.db
      .prepare<[string], SweepCellsTable>("SELECT * FROM sweep_cells WHERE sweep_id = ? ORDER BY idx")
      .all(row.id);
    return storedSweep(row, cellRows, runRows, false);
  }

  /** Sweeps, most recent first; `limit` undefined for all. */
  list(limit?: number): SweepListEntry[] {
    return this.db
      .prepare<[number], SweepsTable & { finished_cells: number }>(
        "SELECT s.*, (SELECT count(*) FROM sweep_cells c WHERE c.sweep_id = s.id) AS finished_cells FROM sweeps s ORDER BY started_at DESC, id DESC LIMIT ?",
      )
      .all(limit ?? -1)
      .map((row) => sweepListEntry(row, false));
  }
}
