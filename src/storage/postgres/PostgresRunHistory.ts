import type { ErrorCode } from "../../errors/ErrorCode.js";
import { TokbenchError } from "../../errors/TokbenchError.js";
import type { RequestRecord } from "../../results/RequestRecord.js";
import type { ResourcePoint } from "../../results/ResourceTimeline.js";
import type { ResourceUsage } from "../../results/ResourceUsage.js";
import type { RunDistributions } from "../../results/RunDistributions.js";
import { type RunHeadline, runHeadline } from "../../results/RunHeadline.js";
import type { RunResult } from "../../results/RunResult.js";
import type { RunSummary } from "../../results/RunSummary.js";
import { workloadIdentity } from "../../results/workloadIdentity.js";
import type {
  BaselinesTable,
  MachinesTable,
  RequestsTable,
  ResourceSamplesTable,
  RunDistributionsTable,
  RunFactsTable,
  RunsTable,
} from "../DatabaseSchema.js";
import { liveRunStatus } from "../liveRunStatus.js";
import type { BaselineEntry, RunFilter, RunHistory, RunListItem, StoredRunHeader } from "../RunHistory.js";
import type { RunRows } from "../RunStore.js";
import { keepLiveStatus, type RunListRow, runListItem, runListWhere } from "../runListItem.js";
import type { SweepListEntry } from "../SweepStore.js";
import {
  COPIED_RUN_TABLES,
  COPIED_SEARCH_TABLES,
  machineFromRow,
  recordFromRow,
  type SearchRows,
  type SearchTable,
} from "../storedRows.js";
import type { StoredTune, TuneListEntry } from "../TuneStore.js";
import {
  listPostgresSweeps,
  listPostgresTunes,
  readPostgresSweep,
  readPostgresTune,
  type StoredDistributedSweep,
} from "./searchReads.js";

/** What this reader needs of `PostgresStore`: its queries (errors redacted) and its shown URL. */
export interface PostgresQueries {
  readonly shownUrl: string;
  query(
    what: string,
    sql: string,
    params?: unknown[],
    code?: ErrorCode,
  ): Promise<{ rows: unknown[]; rowCount: number | null }>;
}

/** A listed run, with its writer (for its live status). */
type ListRow = RunListRow & Pick<RunsTable, "writer_pid" | "writer_hostname">;

/** Request rows read per query by {@link PostgresRunHistory.requests}: about 1 MB of rows. */
const REQUEST_BATCH = 2000;

/**
 * {@link RunHistory} over a team's PostgreSQL database, answering what `SqliteRunHistory` answers
 * for a SQLite file from the same tables (one schema), so every history command reads either.
 * Text is ordered byte-wise (`COLLATE "C"`), as SQLite's default collation does, whatever the
 * database's locale, so both stores list and resolve runs in the same order. Every error is a
 * TokbenchError whose message shows the URL without its password (`PostgresStore.query`).
 */
export class PostgresRunHistory implements RunHistory {
  constructor(private readonly db: PostgresQueries) {}

  private async rows<T>(what: string, sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.db.query(what, sql, params, "DB_READ_FAILED")).rows as T[];
  }

  private notFound(ref: string): TokbenchError {
    return new TokbenchError("RUN_NOT_FOUND", `no run ${ref} in database ${this.db.shownUrl}`, {
      context: { run_id: ref, path: this.db.shownUrl },
    });
  }

  async listSweeps(limit?: number): Promise<SweepListEntry[]> {
    return listPostgresSweeps(this.db, limit);
  }

  async readSweep(ref: string): Promise<StoredDistributedSweep> {
    return readPostgresSweep(this.db, ref);
  }

  async listTunes(limit?: number): Promise<TuneListEntry[]> {
    return listPostgresTunes(this.db, limit);
  }

  async readTune(ref: string): Promise<StoredTune> {
    return readPostgresTune(this.db, ref);
  }

  async listRuns(filter: RunFilter = {}): Promise<{ runs: RunListItem[]; total: number }> {
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const { clause, live } = runListWhere(filter, param, "ILIKE");
    const filterParams = [...params];
    // LIMIT NULL is no limit.
    const limit = filter.limit === undefined || live ? null : Math.max(0, Math.floor(filter.limit));
    const rows = await this.rows<ListRow>(
      "list runs",
      `SELECT r.id, r.started_at, r.ended_at, r.status, r.status_reason, r.tool_version, r.target_kind,
         r.model, r.writer_pid, r.writer_hostname, f.workload, f.workload_key, f.requests_total,
         f.requests_failed, f.headline_json, m.hostname
       FROM runs r JOIN machines m ON m.id = r.machine_id LEFT JOIN run_facts f ON f.run_id = r.id ${clause}
       ORDER BY r.started_at COLLATE "C" DESC, r.id COLLATE "C" DESC LIMIT ${param(limit)}`,
      params,
    );
    const total = live
      ? rows.length
      : Number(
          (
            await this.rows<{ n: number }>(
              "count runs",
              `SELECT COUNT(*) AS n FROM runs r LEFT JOIN run_facts f ON f.run_id = r.id ${clause}`,
              filterParams,
            )
          )[0]?.n ?? 0,
        );
    const tags = await this.tagsOf(rows.map((r) => r.id));
    const runs: RunListItem[] = [];
    for (const row of rows) runs.push(await this.listItem(row, tags.get(row.id) ?? []));
    return live ? keepLiveStatus(runs, filter) : { runs, total };
  }

  async resolveRun(ref: string): Promise<string> {
    const wanted = ref.trim();
    if (wanted === "last") {
      const found = await this.rows<{ id: string }>(
        "find the last run",
        `SELECT id FROM runs ORDER BY started_at COLLATE "C" DESC, id COLLATE "C" DESC LIMIT 1`,
      );
      const id = found[0]?.id;
      if (id === undefined) throw this.notFound("(last: the database has no runs)");
      return id;
    }
    if (wanted === "") throw this.notFound("''");
    const ids = (
      await this.rows<{ id: string }>(
        `find run ${wanted}`,
        `SELECT id FROM runs WHERE substr(id, 1, $2) = $1 ORDER BY id COLLATE "C" LIMIT 6`,
        [wanted, wanted.length],
      )
    ).map((row) => row.id);
    if (ids.includes(wanted)) return wanted;
    if (ids.length === 1) return ids[0] as string;
    if (ids.length === 0) throw this.notFound(wanted);
    throw new TokbenchError(
      "RUN_AMBIGUOUS",
      `run id prefix ${wanted} matches several runs (${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", ..." : ""}); give more of the id`,
      { context: { prefix: wanted, path: this.db.shownUrl } },
    );
  }

  async readRun(runId: string): Promise<StoredRunHeader> {
    const run = (
      await this.rows<RunsTable>(`read run ${runId}`, "SELECT * FROM runs WHERE id = $1", [runId])
    )[0];
    if (run === undefined) throw this.notFound(runId);
    const [machines, facts, tests, count, tags] = await Promise.all([
      this.rows<MachinesTable>("read the run's machine", "SELECT * FROM machines WHERE id = $1", [
        run.machine_id,
      ]),
      this.rows<RunFactsTable>("read the run's facts", "SELECT * FROM run_facts WHERE run_id = $1", [runId]),
      this.rows<{ row_json: string }>(
        "read the run's tests",
        "SELECT row_json FROM tests WHERE run_id = $1 ORDER BY idx",
        [runId],
      ),
      this.requestCount(runId),
      this.tagsOf([runId]),
    ]);
    const fact = facts[0];
    return {
      schema_version: run.result_schema_version as RunResult["schema_version"],
      tool: { name: "tokbench", version: run.tool_version },
      run_id: run.id,
      status: liveRunStatus(run),
      status_reason: run.status_reason,
      started_at: run.started_at,
      ended_at: run.ended_at,
      config: JSON.parse(run.config_json) as Record<string, unknown>,
      machine: machineFromRow(machines[0] as MachinesTable),
      summary: run.summary_json === null ? null : (JSON.parse(run.summary_json) as RunSummary),
      tests: tests.map((row) => JSON.parse(row.row_json) as Record<string, unknown>),
      resources: run.resources_json === null ? null : (JSON.parse(run.resources_json) as ResourceUsage),
      model: run.model,
      target_kind: run.target_kind,
      request_count: count,
      tags: tags.get(runId) ?? [],
      workload: fact?.workload ?? null,
      workload_key: fact?.workload_key ?? null,
    };
  }

  /** Requests stored for a run. */
  async requestCount(runId: string): Promise<number> {
    const found = await this.rows<{ n: number }>(
      "count requests",
      "SELECT COUNT(*) AS n FROM requests WHERE run_id = $1",
      [runId],
    );
    return Number(found[0]?.n ?? 0);
  }

  /**
   * The run's records in index order, {@link REQUEST_BATCH} rows a query by index (a seek on the
   * primary key), so memory stays bounded and no cursor holds a connection while the caller waits.
   */
  async *requests(runId: string): AsyncIterable<RequestRecord> {
    let after = -1;
    for (;;) {
      const rows = await this.rows<RequestsTable>(
        `read requests of run ${runId}`,
        "SELECT * FROM requests WHERE run_id = $1 AND idx > $2 ORDER BY idx LIMIT $3",
        [runId, after, REQUEST_BATCH],
      );
      for (const row of rows) yield recordFromRow(row);
      if (rows.length < REQUEST_BATCH) return;
      after = (rows[rows.length - 1] as RequestsTable).idx;
    }
  }

  async distributions(runId: string): Promise<RunDistributions | null> {
    const rows = await this.rows<RunDistributionsTable>(
      "read distributions",
      `SELECT * FROM run_distributions WHERE run_id = $1 ORDER BY metric COLLATE "C"`,
      [runId],
    );
    const first = rows[0];
    if (first === undefined) return null;
    return {
      encoding: first.encoding as RunDistributions["encoding"],
      value_scale: first.value_scale,
      histograms: Object.fromEntries(rows.map((r) => [r.metric, r.histogram])),
    };
  }

  async resourceTimeline(runId: string): Promise<ResourcePoint[]> {
    const rows = await this.rows<ResourceSamplesTable>(
      "read the resource timeline",
      "SELECT * FROM resource_samples WHERE run_id = $1 ORDER BY idx",
      [runId],
    );
    return rows.map(({ run_id: _run, idx: _idx, ...point }) => point);
  }

  async terminalText(runId: string): Promise<string | null> {
    const rows = await this.rows<{ terminal_text: string }>(
      "read the run's output",
      "SELECT terminal_text FROM run_outputs WHERE run_id = $1",
      [runId],
    );
    return rows[0]?.terminal_text ?? null;
  }

  async deleteRuns(runIds: readonly string[]): Promise<number> {
    if (runIds.length === 0) return 0;
    // One statement, so all or none; the schema's ON DELETE CASCADE removes everything of each run.
    const done = await this.db.query("delete runs", "DELETE FROM runs WHERE id = ANY($1::text[])", [
      [...runIds],
    ]);
    return done.rowCount ?? 0;
  }

  async runsStartedBefore(before: string, options: { keepAccepted?: boolean } = {}): Promise<string[]> {
    const keep =
      options.keepAccepted === true ? "AND NOT EXISTS (SELECT 1 FROM baselines b WHERE b.run_id = r.id)" : "";
    const rows = await this.rows<{ id: string }>(
      "find old runs",
      `SELECT r.id FROM runs r WHERE r.started_at < $1 ${keep} ORDER BY r.started_at COLLATE "C", r.id COLLATE "C"`,
      [before],
    );
    return rows.map((row) => row.id);
  }

  async accept(runId: string): Promise<BaselineEntry> {
    const run = (
      await this.rows<Pick<RunsTable, "model" | "config_json" | "status"> & { workload_key: string | null }>(
        `read run ${runId}`,
        `SELECT r.model, f.workload_key, r.config_json, r.status
         FROM runs r LEFT JOIN run_facts f ON f.run_id = r.id WHERE r.id = $1`,
        [runId],
      )
    )[0];
    if (run === undefined) throw this.notFound(runId);
    if (run.status !== "completed") {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `run ${runId} did not complete (${run.status}); only a completed run can be a baseline`,
        { context: { run_id: runId } },
      );
    }
    const entry: BaselinesTable = {
      run_id: runId,
      model: run.model,
      workload_key:
        run.workload_key ?? workloadIdentity(JSON.parse(run.config_json) as Record<string, unknown>).key,
      accepted_at: new Date().toISOString(),
    };
    await this.db.query(
      `accept run ${runId}`,
      "INSERT INTO baselines (run_id, model, workload_key, accepted_at) VALUES ($1, $2, $3, $4)",
      [entry.run_id, entry.model, entry.workload_key, entry.accepted_at],
    );
    return entry;
  }

  async acceptedBaseline(model: string | null, workloadKey: string): Promise<BaselineEntry | null> {
    return (await this.acceptedBaselines(model, workloadKey, 1))[0] ?? null;
  }

  async acceptedBaselines(
    model: string | null,
    workloadKey: string,
    limit: number,
  ): Promise<BaselineEntry[]> {
    // A run accepted twice counts once, at its latest acceptance.
    return this.rows<BaselinesTable>(
      "read baselines",
      `SELECT run_id, model, workload_key, MAX(accepted_at) AS accepted_at FROM baselines
       WHERE workload_key = $1 AND model IS NOT DISTINCT FROM $2
       GROUP BY run_id, model, workload_key ORDER BY MAX(accepted_at) DESC LIMIT $3`,
      [workloadKey, model, limit],
    );
  }

  async latestAcceptedBaseline(): Promise<BaselineEntry | null> {
    const rows = await this.rows<BaselinesTable>(
      "read baselines",
      "SELECT run_id, model, workload_key, accepted_at FROM baselines ORDER BY accepted_at DESC LIMIT 1",
      [],
    );
    return rows[0] ?? null;
  }

  /** Ids of every stored run, oldest first (what `tokbench db copy` copies from here). */
  async runIds(): Promise<string[]> {
    const rows = await this.rows<{ id: string }>(
      "list run ids",
      `SELECT id FROM runs ORDER BY started_at COLLATE "C", id COLLATE "C"`,
    );
    return rows.map((row) => row.id);
  }

  /** Ids of the stored sweeps or tunes, oldest first: what `db copy` walks. */
  async searchIds(table: SearchTable): Promise<string[]> {
    const rows = await this.rows<{ id: string }>(
      `list ${table}`,
      `SELECT id FROM ${table} ORDER BY started_at COLLATE "C", id COLLATE "C"`,
    );
    return rows.map((row) => row.id);
  }

  /**
   * Every row of one sweep or tune, as `RunStore.searchRows` gives them (`db copy`).
   * @throws TokbenchError `SWEEP_NOT_FOUND`, `TUNE_NOT_FOUND`.
   */
  async searchRows(table: SearchTable, id: string): Promise<SearchRows> {
    const row = (
      await this.rows<SearchRows["row"]>(`read ${table} ${id}`, `SELECT * FROM ${table} WHERE id = $1`, [id])
    )[0];
    if (row === undefined) {
      throw new TokbenchError(
        table === "sweeps" ? "SWEEP_NOT_FOUND" : "TUNE_NOT_FOUND",
        `no ${table.slice(0, -1)} ${id} in database ${this.db.shownUrl}`,
        { context: { id, url: this.db.shownUrl } },
      );
    }
    const { key, tables } = COPIED_SEARCH_TABLES[table];
    const children: SearchRows["children"] = {};
    for (const child of tables)
      children[child] = await this.rows(
        `read ${child} of ${id}`,
        `SELECT * FROM ${child} WHERE ${key} = $1`,
        [id],
      );
    return { table, row, children };
  }

  /** Every row of one run, table by table, with its machine's row, as `RunStore.runRows` gives them. */
  async runRows(runId: string): Promise<RunRows> {
    const run = (
      await this.rows<RunsTable>(`read run ${runId}`, "SELECT * FROM runs WHERE id = $1", [runId])
    )[0];
    if (run === undefined) throw this.notFound(runId);
    const machine = (
      await this.rows<MachinesTable>("read the run's machine", "SELECT * FROM machines WHERE id = $1", [
        run.machine_id,
      ])
    )[0] as MachinesTable;
    const out = { machine, runs: run } as RunRows;
    for (const table of COPIED_RUN_TABLES) {
      const order =
        table === "requests" || table === "tests" || table === "resource_samples" ? "ORDER BY idx" : "";
      (out as Record<string, unknown>)[table] = await this.rows(
        `read ${table} of run ${runId}`,
        `SELECT * FROM ${table} WHERE run_id = $1 ${order}`,
        [runId],
      );
    }
    return out;
  }

  private async tagsOf(runIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (runIds.length === 0) return out;
    const rows = await this.rows<{ run_id: string; tag: string }>(
      "read tags",
      `SELECT run_id, tag FROM run_tags WHERE run_id = ANY($1::text[]) ORDER BY tag COLLATE "C"`,
      [runIds],
    );
    for (const row of rows) {
      const list = out.get(row.run_id);
      if (list === undefined) out.set(row.run_id, [row.tag]);
      else list.push(row.tag);
    }
    return out;
  }

  private async listItem(row: ListRow, tags: string[]): Promise<RunListItem> {
    let headline: RunHeadline | null = null;
    if (row.headline_json !== null) headline = JSON.parse(row.headline_json) as RunHeadline;
    else if (row.status !== "running") {
      // A run stored before schema 2 (copied from an old SQLite file): its headline from its summary.
      const summary = (
        await this.rows<{ summary_json: string | null }>(
          "read a summary",
          "SELECT summary_json FROM runs WHERE id = $1",
          [row.id],
        )
      )[0]?.summary_json;
      if (summary != null) headline = runHeadline(JSON.parse(summary) as RunSummary, []);
    }
    let requests = row.requests_total;
    let failed = row.requests_failed;
    if (requests === null || failed === null) {
      const counts = (
        await this.rows<{ n: number; failed: number }>(
          "count requests",
          "SELECT COUNT(*) AS n, COUNT(error_code) AS failed FROM requests WHERE run_id = $1",
          [row.id],
        )
      )[0];
      requests = Number(counts?.n ?? 0);
      failed = Number(counts?.failed ?? 0);
    }
    return runListItem(row, {
      status: liveRunStatus(row),
      tags,
      requests,
      failed_requests: failed,
      headline,
    });
  }
}
