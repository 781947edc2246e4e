import type Database from "better-sqlite3";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import type { ResourcePoint } from "../results/ResourceTimeline.js";
import type { ResourceUsage } from "../results/ResourceUsage.js";
import type { RunDistributions } from "../results/RunDistributions.js";
import { type RunHeadline, runHeadline } from "../results/RunHeadline.js";
import type { RunResult } from "../results/RunResult.js";
import type { RunSummary } from "../results/RunSummary.js";
import type {
  BaselinesTable,
  MachinesTable,
  RequestsTable,
  ResourceSamplesTable,
  RunDistributionsTable,
  RunFactsTable,
  RunsTable,
  TestsTable,
} from "./DatabaseSchema.js";
import type { BaselineEntry, RunFilter, RunHistory, RunListItem, StoredRunHeader } from "./RunHistory.js";
import type { StoredRunStatus } from "./RunStore.js";
import { keepLiveStatus, type RunListRow, runListItem, runListWhere } from "./runListItem.js";
import { type StoredSweep, type SweepListEntry, SweepStore } from "./SweepStore.js";
import { machineFromRow, recordFromRow } from "./storedRows.js";
import { type StoredTune, type TuneListEntry, TuneStore } from "./TuneStore.js";

type LiveStatus = (row: Pick<RunsTable, "status" | "writer_pid" | "writer_hostname">) => StoredRunStatus;

/**
 * A listed run: only the columns that come before the large JSON columns in a `runs` record (so
 * SQLite never walks their overflow pages), with the run's facts and its machine's host name.
 */
type ListRow = RunListRow;

/** Request rows read per query by {@link SqliteRunHistory.iterateRequests}: about 1 MB of rows. */
const REQUEST_BATCH = 2000;

function notFound(ref: string, path: string): TokbenchError {
  return new TokbenchError("RUN_NOT_FOUND", `no run ${ref} in database ${path}`, {
    context: { run_id: ref, path },
  });
}

/**
 * {@link RunHistory} over tokbench's SQLite database (the same connection as its `RunStore`).
 * Listing reads only the run rows (their stored counts and headline), never the requests, so
 * `tokbench runs` stays fast with tens of thousands of runs; requests are read back row by row.
 */
export class SqliteRunHistory implements RunHistory {
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly liveStatus: LiveStatus;

  constructor(db: Database.Database, path: string, liveStatus: LiveStatus) {
    this.db = db;
    this.path = path;
    this.liveStatus = liveStatus;
  }

  async listSweeps(limit?: number): Promise<SweepListEntry[]> {
    return new SweepStore(this.db, this.path).list(limit);
  }

  async readSweep(ref: string): Promise<StoredSweep> {
    return new SweepStore(this.db, this.path).get(ref);
  }

  async listTunes(limit?: number): Promise<TuneListEntry[]> {
    return new TuneStore(this.db, this.path).list(limit);
  }

  async readTune(ref: string): Promise<StoredTune> {
    return new TuneStore(this.db, this.path).get(ref);
  }

  async listRuns(filter: RunFilter = {}): Promise<{ runs: RunListItem[]; total: number }> {
    return this.listRunsSync(filter);
  }

  /** {@link listRuns}, answered synchronously. */
  listRunsSync(filter: RunFilter = {}): { runs: RunListItem[]; total: number } {
    const params: unknown[] = [];
    const { clause, live } = runListWhere(
      filter,
      (value) => {
        params.push(value);
        return "?";
      },
      "LIKE",
    );
    const limit = filter.limit === undefined || live ? -1 : Math.max(0, Math.floor(filter.limit));
    const rows = this.db
      .prepare<unknown[], ListRow>(
        `SELECT r.id, r.started_at, r.ended_at, r.status, r.status_reason, r.tool_version, r.target_kind,
           r.model, f.workload, f.workload_key, f.requests_total, f.requests_failed, f.headline_json, m.hostname
         FROM runs r JOIN machines m ON m.id = r.machine_id LEFT JOIN run_facts f ON f.run_id = r.id ${clause}
         ORDER BY r.started_at DESC, r.id DESC LIMIT ?`,
      )
      .all([...params, limit]);
    const total = live
      ? rows.length
      : (this.db
          .prepare<unknown[], number>(
            `SELECT COUNT(*) FROM runs r LEFT JOIN run_facts f ON f.run_id = r.id ${clause}`,
          )
          .pluck()
          .get(params) as number);
    const tags = this.tagsOf(rows.length < 500 ? rows.map((r) => r.id) : null);
    const runs = rows.map((row) => this.listItem(row, tags.get(row.id) ?? []));
    return live ? keepLiveStatus(runs, filter) : { runs, total };
  }

  async resolveRun(ref: string): Promise<string> {
    return this.resolveRunSync(ref);
  }

  /** {@link resolveRun}, answered synchronously. */
  resolveRunSync(ref: string): string {
    const wanted = ref.trim();
    if (wanted === "last") {
      const id = this.db
        .prepare<[], string>("SELECT id FROM runs ORDER BY started_at DESC, id DESC LIMIT 1")
        .pluck()
        .get();
      if (id === undefined) throw notFound("(last: the database has no runs)", this.path);
      return id;
    }
    if (wanted === "") throw notFound("''", this.path);
    const ids = this.db
      .prepare<{ prefix: string; length: number }, string>(
        "SELECT id FROM runs WHERE substr(id, 1, @length) = @prefix ORDER BY id LIMIT 6",
      )
      .pluck()
      .all({ prefix: wanted, length: wanted.length });
    if (ids.includes(wanted)) return wanted;
    if (ids.length === 1) return ids[0] as string;
    if (ids.length === 0) throw notFound(wanted, this.path);
    throw new TokbenchError(
      "RUN_AMBIGUOUS",
      `run id prefix ${wanted} matches several runs (${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", ..." : ""}); give more of the id`,
      { context: { prefix: wanted, path: this.path } },
    );
  }

  async readRun(runId: string): Promise<StoredRunHeader> {
    return this.readRunSync(runId);
  }

  /** {@link readRun}, answered synchronously. */
  readRunSync(runId: string): StoredRunHeader {
    const run = this.db.prepare<[string], RunsTable>("SELECT * FROM runs WHERE id = ?").get(runId);
    if (run === undefined) throw notFound(runId, this.path);
    const machine = this.db
      .prepare<[number], MachinesTable>("SELECT * FROM machines WHERE id = ?")
      .get(run.machine_id) as MachinesTable;
    const facts = this.db
      .prepare<[string], RunFactsTable>("SELECT * FROM run_facts WHERE run_id = ?")
      .get(runId);
    const tests = this.db
      .prepare<[string], Pick<TestsTable, "row_json">>(
        "SELECT row_json FROM tests WHERE run_id = ? ORDER BY idx",
      )
      .all(runId)
      .map((row) => JSON.parse(row.row_json) as Record<string, unknown>);
    return {
      schema_version: run.result_schema_version as RunResult["schema_version"],
      tool: { name: "tokbench", version: run.tool_version },
      run_id: run.id,
      status: this.liveStatus(run),
      status_reason: run.status_reason,
      started_at: run.started_at,
      ended_at: run.ended_at,
      config: JSON.parse(run.config_json) as Record<string, unknown>,
      machine: machineFromRow(machine),
      summary: run.summary_json === null ? null : (JSON.parse(run.summary_json) as RunSummary),
      tests,
      resources: run.resources_json === null ? null : (JSON.parse(run.resources_json) as ResourceUsage),
      model: run.model,
      target_kind: run.target_kind,
      request_count: this.requestCount(runId),
      tags: this.tagsOf([runId]).get(runId) ?? [],
      workload: facts?.workload ?? null,
      workload_key: facts?.workload_key ?? null,
    };
  }

  /** Requests stored for a run. */
  requestCount(runId: string): number {
    return this.db
      .prepare<[string], number>("SELECT COUNT(*) FROM requests WHERE run_id = ?")
      .pluck()
      .get(runId) as number;
  }

  async *requests(runId: string): AsyncIterable<RequestRecord> {
    yield* this.iterateRequests(runId);
  }

  /**
   * The run's records in index order, read {@link REQUEST_BATCH} rows at a time by index (a seek on
   * the primary key). No statement stays open between batches, so the connection can write while a
   * reader is suspended half-way (a run's recorder flushing, `--json` waiting for stdout to drain).
   */
  *iterateRequests(runId: string): IterableIterator<RequestRecord> {
    const batch = this.db.prepare<{ run: string; after: number; limit: number }, RequestsTable>(
      "SELECT * FROM requests WHERE run_id = @run AND idx > @after ORDER BY idx LIMIT @limit",
    );
    let after = -1;
    for (;;) {
      const rows = batch.all({ run: runId, after, limit: REQUEST_BATCH });
      for (const row of rows) yield recordFromRow(row);
      if (rows.length < REQUEST_BATCH) return;
      after = (rows[rows.length - 1] as RequestsTable).idx;
    }
  }

  async distributions(runId: string): Promise<RunDistributions | null> {
    const rows = this.db
      .prepare<[string], RunDistributionsTable>("SELECT * FROM run_distributions WHERE run_id = ?")
      .all(runId);
    if (rows.length === 0) return null;
    const first = rows[0] as RunDistributionsTable;
    return {
      encoding: first.encoding as RunDistributions["encoding"],
      value_scale: first.value_scale,
      histograms: Object.fromEntries(rows.map((r) => [r.metric, r.histogram])),
    };
  }

  async resourceTimeline(runId: string): Promise<ResourcePoint[]> {
    return this.db
      .prepare<[string], ResourceSamplesTable>("SELECT * FROM resource_samples WHERE run_id = ? ORDER BY idx")
      .all(runId)
      .map(({ run_id: _run, idx: _idx, ...point }) => point);
  }

  async terminalText(runId: string): Promise<string | null> {
    return (
      this.db
        .prepare<[string], string>("SELECT terminal_text FROM run_outputs WHERE run_id = ?")
        .pluck()
        .get(runId) ?? null
    );
  }

  async deleteRuns(runIds: readonly string[]): Promise<number> {
    const remove = this.db.prepare<[string]>("DELETE FROM runs WHERE id = ?");
    try {
      return this.db.transaction(() => runIds.reduce((n, id) => n + remove.run(id).changes, 0))();
    } catch (error) {
      throw new TokbenchError(
        "DB_WRITE_FAILED",
        `cannot delete runs in database ${this.path}: ${String(error)}`,
        {
          context: { path: this.path },
          cause: error,
        },
      );
    }
  }

  async runsStartedBefore(before: string, options: { keepAccepted?: boolean } = {}): Promise<string[]> {
    const keep =
      options.keepAccepted === true ? "AND NOT EXISTS (SELECT 1 FROM baselines b WHERE b.run_id = r.id)" : "";
    return this.db
      .prepare<[string], string>(
        `SELECT r.id FROM runs r WHERE r.started_at < ? ${keep} ORDER BY r.started_at`,
      )
      .pluck()
      .all(before);
  }

  async accept(runId: string): Promise<BaselineEntry> {
    const run = this.db
      .prepare<
        [string],
        Pick<RunsTable, "model" | "config_json" | "status"> & { workload_key: string | null }
      >(
        `SELECT r.model, f.workload_key, r.config_json, r.status
         FROM runs r LEFT JOIN run_facts f ON f.run_id = r.id WHERE r.id = ?`,
      )
      .get(runId);
    if (run === undefined) throw notFound(runId, this.path);
    if (run.status !== "completed") {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `run ${runId} did not complete (${run.status}); only a completed run can be a baseline`,
        {
          context: { run_id: runId },
        },
      );
    }
    let workloadKey = run.workload_key;
    if (workloadKey === null) {
      const { workloadIdentity } = await import("../results/workloadIdentity.js");
      workloadKey = workloadIdentity(JSON.parse(run.config_json) as Record<string, unknown>).key;
    }
    const entry: BaselinesTable = {
      run_id: runId,
      model: run.model,
      workload_key: workloadKey,
      accepted_at: new Date().toISOString(),
    };
    try {
      this.db
        .prepare<BaselinesTable>(
          "INSERT INTO baselines (run_id, model, workload_key, accepted_at) VALUES (@run_id, @model, @workload_key, @accepted_at)",
        )
        .run(entry);
    } catch (error) {
      throw new TokbenchError(
        "DB_WRITE_FAILED",
        `cannot accept run ${runId} in database ${this.path}: ${String(error)}`,
        {
          context: { path: this.path },
          cause: error,
        },
      );
    }
    return entry;
  }

  async acceptedBaseline(model: string | null, workloadKey: string): Promise<BaselineEntry | null> {
    return (
      this.db
        .prepare<[string, string | null], BaselinesTable>(
          `SELECT * FROM baselines WHERE workload_key = ? AND model IS ?
           ORDER BY accepted_at DESC LIMIT 1`,
        )
        .get(workloadKey, model) ?? null
    );
  }

  async acceptedBaselines(
    model: string | null,
    workloadKey: string,
    limit: number,
  ): Promise<BaselineEntry[]> {
    // A run accepted twice counts once, at its latest acceptance.
    return this.db
      .prepare<[string, string | null, number], BaselinesTable>(
        `SELECT run_id, model, workload_key, MAX(accepted_at) AS accepted_at FROM baselines
         WHERE workload_key = ? AND model IS ? GROUP BY run_id ORDER BY accepted_at DESC LIMIT ?`,
      )
      .all(workloadKey, model, limit);
  }

  async latestAcceptedBaseline(): Promise<BaselineEntry | null> {
    return (
      this.db
        .prepare<[], BaselinesTable>(
          "SELECT run_id, model, workload_key, accepted_at FROM baselines ORDER BY accepted_at DESC LIMIT 1",
        )
        .get() ?? null
    );
  }

  /** The live status of a run stored as `running` (its writer may be dead). */
  private liveStatusOf(runId: string): StoredRunStatus {
    const row = this.db
      .prepare<[string], Pick<RunsTable, "status" | "writer_pid" | "writer_hostname">>(
        "SELECT status, writer_pid, writer_hostname FROM runs WHERE id = ?",
      )
      .get(runId);
    return row === undefined ? "incomplete" : this.liveStatus(row);
  }

  private tagsOf(runIds: string[] | null): Map<string, string[]> {
    const rows =
      runIds === null
        ? this.db
            .prepare<[], { run_id: string; tag: string }>("SELECT run_id, tag FROM run_tags ORDER BY tag")
            .all()
        : runIds.length === 0
          ? []
          : this.db
              .prepare<string[], { run_id: string; tag: string }>(
                `SELECT run_id, tag FROM run_tags WHERE run_id IN (${runIds.map(() => "?").join(", ")}) ORDER BY tag`,
              )
              .all(...runIds);
    const out = new Map<string, string[]>();
    for (const row of rows) {
      const list = out.get(row.run_id);
      if (list === undefined) out.set(row.run_id, [row.tag]);
      else list.push(row.tag);
    }
    return out;
  }

  private listItem(row: ListRow, tags: string[]): RunListItem {
    let headline: RunHeadline | null = null;
    if (row.headline_json !== null) headline = JSON.parse(row.headline_json) as RunHeadline;
    else if (row.status !== "running") {
      // A run stored before schema 2: its headline from its summary (the only time this reads one).
      const summary = this.db
        .prepare<[string], string | null>("SELECT summary_json FROM runs WHERE id = ?")
        .pluck()
        .get(row.id);
      if (summary != null) headline = runHeadline(JSON.parse(summary) as RunSummary, []);
    }
    let requests = row.requests_total;
    let failed = row.requests_failed;
    if (requests === null || failed === null) {
      const counts = this.db
        .prepare<[string], { n: number; failed: number }>(
          "SELECT COUNT(*) AS n, COUNT(error_code) AS failed FROM requests WHERE run_id = ?",
        )
        .get(row.id) as { n: number; failed: number };
      requests = counts.n;
      failed = counts.failed;
    }
    return runListItem(row, {
      status: row.status === "running" ? this.liveStatusOf(row.id) : row.status,
      tags,
      requests,
      failed_requests: failed,
      headline,
    });
  }
}
