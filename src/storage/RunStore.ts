import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { MachineInfo } from "../results/MachineInfo.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import { RequestTable } from "../results/RequestTable.js";
import type { RunResult, RunStatus } from "../results/RunResult.js";
import type { RunSummary } from "../results/RunSummary.js";
import { redactText } from "../secrets/redact.js";
import { sanitizeText } from "../text/sanitizeText.js";
import type {
  DatabaseSchema,
  MachinesTable,
  RequestsTable,
  RunsTable,
  TestsTable,
} from "./DatabaseSchema.js";
import { TABLE_COLUMNS } from "./DatabaseSchema.js";
import { databaseFilePath } from "./databaseFilePath.js";
import { checkDatabaseOwnership } from "./databaseOwnership.js";
import { defaultDatabasePath } from "./defaultDatabasePath.js";
import {
  runFinishFacts,
  runStartFacts,
  writeRunAttachments,
  writeRunFacts,
  writeRunTags,
} from "./historyRows.js";
import { liveRunStatus } from "./liveRunStatus.js";
import { migrate } from "./migrations.js";
import type { RunHistory, RunListItem } from "./RunHistory.js";
import { SqliteRunHistory } from "./SqliteRunHistory.js";
import { SweepStore } from "./SweepStore.js";
import {
  COPIED_RUN_TABLES,
  COPIED_SEARCH_TABLES,
  machineRow,
  recordFromRow,
  requestRow,
  runFinishRow,
  runStartRow,
  type SearchRows,
  type SearchTable,
  testRow,
} from "./storedRows.js";
import { TuneStore } from "./TuneStore.js";
import { insertSql, updateFromExcluded } from "./tableWrites.js";

/**
 * How a stored run ended. Besides the {@link RunStatus} values: `running` while the process that
 * writes it is still alive, `incomplete` when that process died before finishing (SIGKILL, crash,
 * power loss): its finished requests are all there, its summary is not.
 */
export type StoredRunStatus = RunStatus | "running" | "incomplete";

/** A run read back from the database: a {@link RunResult}, except that an unfinished run has no summary or end. */
export interface StoredRun extends Omit<RunResult, "status" | "ended_at" | "summary"> {
  status: StoredRunStatus;
  ended_at: string | null;
  summary: RunSummary | null;
}

/** What is known when a run starts; written at once so a run that dies is still on record. */
export interface BeginRunInput {
  run_id: string;
  /** ISO time. */
  started_at: string;
  /** The configuration; secrets are removed again before writing (see `redactSecrets`). */
  config: Record<string, unknown>;
  machine: MachineInfo;
  /** tokbench's version. */
  tool_version: string;
  /** The target's kind (`openai-chat`, `ollama`, `embedded`, ...). Defaults to `config.target` when it is a string, else null. */
  target_kind?: string | null;
  /** Model name or file. Defaults to `config.model` when it is a string, else null. */
  model?: string | null;
  /**
   * Literal secrets (the API key itself) to redact from every string this run writes, wherever
   * they appear (error messages a server echoed, URLs). Defaults to none.
   */
  secrets?: readonly string[];
  /** Labels for the run (`bench --tag`). Defaults to none. */
  tags?: readonly string[];
}

/** Options of {@link RunStore.finishRun}. */
export interface FinishRunOptions {
  /** As in {@link BeginRunInput.target_kind}. Defaults to the value given to `beginRun`, else `config.target`. */
  target_kind?: string | null;
  /** As in {@link BeginRunInput.model}. Defaults to the value given to `beginRun`, else `config.model`. */
  model?: string | null;
  /** Added to the secrets given to `beginRun`. Defaults to none. */
  secrets?: readonly string[];
  /** What the run printed on the terminal, kept for `tokbench show`. Defaults to null (nothing kept). */
  terminal_text?: string | null;
  /** Labels for the run, when `beginRun` was not called. Defaults to none. */
  tags?: readonly string[];
  /**
   * The requests to add, those of them already stored being left as they are: what a recorder
   * still holds after a lock (`RunRecorder.unstoredRequests`), so `result.requests` need not be
   * read back. Defaults to `result.requests`.
   */
  requests?: Iterable<RequestRecord>;
}

/** One line of {@link RunStore.listRuns}: the history's list item (see `RunHistory.listRuns`). */
export type RunListEntry = RunListItem;

/** Options of {@link RunStore.listRuns}. */
export interface ListRunsOptions {
  /** Most recent runs first; at most this many. Defaults to all. */
  limit?: number;
}

/** Options of {@link RunStore.open}. */
export interface RunStoreOptions {
  /**
   * Milliseconds a write waits for another process holding the write lock before it fails with
   * `DB_LOCKED` (see {@link RunStore.setBusyTimeout}). Defaults to 5000.
   */
  busyTimeoutMs?: number;
}

/** How long a write waits for another process's write lock, unless told otherwise. */
const DEFAULT_BUSY_TIMEOUT_MS = 5000;

/** SQLite's default: checkpoint once the WAL holds this many pages. */
const DEFAULT_WAL_AUTOCHECKPOINT_PAGES = 1000;

/**
 * Switches the database to WAL, retrying while another connection holds a lock. SQLite answers
 * SQLITE_BUSY to this pragma without waiting on the busy timeout when waiting could deadlock, which
 * happened about once in 2,400 opens of a new file by four processes at once.
 */
function enableWal(db: Database.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  for (;;) {
    try {
      db.pragma("journal_mode = WAL");
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== "SQLITE_BUSY" || Date.now() >= deadline) throw error;
      // Opening is synchronous: block this thread briefly rather than spin.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * tokbench's database of runs: one SQLite file holding every run, its configuration, the machine
 * it ran on, every request record and the llama-bench-style test rows. Schema: `DatabaseSchema.ts`
 * and docs/database.md.
 *
 * Writing follows the run: {@link beginRun} when it starts, {@link appendRequest} as each request
 * finishes, {@link finishRun} at the end. Each call commits on its own, so whatever was written
 * survives the process being killed at any point.
 *
 * All methods are synchronous (better-sqlite3): a request insert takes tens of microseconds, less
 * than an `await` round trip would cost, and keeps the write ordered with the run.
 */
/** Every row of one run, table by table, and its machine's row ({@link RunStore.runRows}). */
export type RunRows = { machine: MachinesTable; runs: RunsTable } & {
  [T in RunTable]: DatabaseSchema[T][];
};

/** The tables whose rows belong to one run (keyed by `run_id`); sweeps are not a run's. */
type RunTable = (typeof COPIED_RUN_TABLES)[number];

export class RunStore {
  /** Absolute path of the database file. */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly secretsByRun = new Map<string, string[]>();
  private readonly insertRequest: Database.Statement<[RequestsTable]>;
  private readonly insertTest: Database.Statement<[TestsTable]>;
  private readonly defaultBusyTimeoutMs: number;
  private sweepStore: SweepStore | null = null;
  private tuneStore: TuneStore | null = null;

  private constructor(path: string, db: Database.Database, busyTimeoutMs: number) {
    this.path = path;
    this.db = db;
    this.defaultBusyTimeoutMs = busyTimeoutMs;
    this.insertRequest = db.prepare<RequestsTable>(insertSql("requests"));
    this.insertTest = db.prepare<TestsTable>(insertSql("tests"));
  }

  /**
   * Opens (creating it and its parent folders if needed) the database at `path`, and brings its
   * schema up to date.
   *
   * Durability: the database runs in WAL mode with `synchronous=NORMAL`. A commit is then complete
   * once its frames are written to the WAL file with `write()`: they sit in the operating system's
   * page cache, which belongs to the kernel, not to the process, so killing the process (SIGKILL,
   * a crash, an out-of-memory kill) right after a commit loses nothing; the next opener replays the
   * WAL. Only a kernel crash or power loss before the OS flushes the WAL can lose the last
   * commits (the WAL is fsynced at checkpoints), which is the price of not paying an fsync per
   * request. `synchronous=FULL` would cover power loss too; it is not worth it for benchmark data.
   *
   * @param location database file (or a `file://` URL to one). Defaults to {@link defaultDatabasePath}.
   *   `:memory:` gives a private in-memory database. A URL of another scheme (`postgres://...`) is
   *   refused with `DB_UNSUPPORTED` before anything is created.
   * @throws TokbenchError `DB_OPEN_FAILED` when the file cannot be created or opened, is not a
   *   SQLite database, is corrupt, is another application's database (see `databaseOwnership.ts`;
   *   such a file is not changed), or was written by a newer tokbench.
   */
  static open(location: string = defaultDatabasePath(), options: RunStoreOptions = {}): RunStore {
    const path = databaseFilePath(location);
    const memory = path === ":memory:";
    const absolute = memory ? path : resolve(path);
    if (!memory) {
      try {
        mkdirSync(dirname(absolute), { recursive: true });
      } catch (error) {
        throw new TokbenchError(
          "DB_OPEN_FAILED",
          `cannot create the folder for database ${absolute}: ${describe(error)}`,
          { context: { path: absolute }, cause: error },
        );
      }
    }
    let db: Database.Database | undefined;
    const busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS));
    try {
      // Before SQLite touches the file: another application's database is refused unchanged.
      if (!memory) checkDatabaseOwnership(absolute, busyTimeoutMs);
      db = new Database(absolute, { timeout: busyTimeoutMs });
      // Reading the journal mode is the first real access: a corrupt or foreign file fails here.
      enableWal(db, busyTimeoutMs);
      db.pragma("synchronous = NORMAL");
      db.pragma("foreign_keys = ON");
      migrate(db, absolute);
      return new RunStore(absolute, db, busyTimeoutMs);
    } catch (error) {
      db?.close();
      if (error instanceof TokbenchError) throw error;
      throw new TokbenchError("DB_OPEN_FAILED", `cannot open database ${absolute}: ${describe(error)}`, {
        context: { path: absolute },
        cause: error,
      });
    }
  }

  /**
   * The readers of the run history (`runs`, `show`, `compare`, `report`, `export`) over this
   * database, behind the dialect-neutral {@link RunHistory} interface.
   */
  history(): RunHistory {
    return this.historyReader();
  }

  private historyReader(): SqliteRunHistory {
    return new SqliteRunHistory(this.db, this.path, (row) => this.liveStatus(row));
  }

  /** The sweep tables of this database (sweeps, their cells and the runs of each cell). */
  sweeps(): SweepStore {
    this.sweepStore ??= new SweepStore(this.db, this.path);
    return this.sweepStore;
  }

  /** The tune tables of this database (tunes and their trials). */
  tunes(): TuneStore {
    this.tuneStore ??= new TuneStore(this.db, this.path);
    return this.tuneStore;
  }

  /** Ids of every stored run, oldest first. */
  runIds(): string[] {
    return this.db
      .prepare<[], string>("SELECT id FROM runs ORDER BY started_at, id")
      .pluck()
      .all() as string[];
  }

  /**
   * Every row a run has, table by table, with its machine's row: what `tokbench db copy` moves to
   * another store. Held in memory whole (about 0.4 KB a request).
   * @throws TokbenchError `RUN_NOT_FOUND`.
   */
  runRows(runId: string): RunRows {
    const all = <T extends keyof DatabaseSchema>(table: T) =>
      this.db.prepare(`SELECT * FROM ${table} WHERE run_id = ?`).all(runId) as DatabaseSchema[T][];
    const run = this.db.prepare("SELECT * FROM runs WHERE id = ?").get(runId) as RunsTable | undefined;
    if (run === undefined)
      throw new TokbenchError("RUN_NOT_FOUND", `no run ${runId} in database ${this.path}`, {
        context: { runId },
      });
    const machine = this.db
      .prepare("SELECT * FROM machines WHERE id = ?")
      .get(run.machine_id) as MachinesTable;
    return {
      machine,
      runs: run,
      run_facts: all("run_facts"),
      requests: this.db
        .prepare("SELECT * FROM requests WHERE run_id = ? ORDER BY idx")
        .all(runId) as RequestsTable[],
      tests: all("tests"),
      run_tags: all("run_tags"),
      run_distributions: all("run_distributions"),
      resource_samples: all("resource_samples"),
      run_outputs: all("run_outputs"),
      baselines: all("baselines"),
    };
  }

  /** Ids of the stored sweeps or tunes, oldest first: what `db copy` walks. */
  searchIds(table: SearchTable): string[] {
    return this.db
      .prepare<[], string>(`SELECT id FROM ${table} ORDER BY started_at, id`)
      .pluck()
      .all() as string[];
  }

  /**
   * Every row of one sweep or tune (`db copy`).
   * @throws TokbenchError `SWEEP_NOT_FOUND`, `TUNE_NOT_FOUND`.
   */
  searchRows(table: SearchTable, id: string): SearchRows {
    const row = this.db.prepare(`SELECT * FROM ${table} WHERE id = ?`).get(id) as
      | SearchRows["row"]
      | undefined;
    if (row === undefined) {
      throw new TokbenchError(
        table === "sweeps" ? "SWEEP_NOT_FOUND" : "TUNE_NOT_FOUND",
        `no ${table.slice(0, -1)} ${id} in database ${this.path}`,
        { context: { id, path: this.path } },
      );
    }
    const { key, tables } = COPIED_SEARCH_TABLES[table];
    const children: SearchRows["children"] = {};
    for (const child of tables)
      children[child] = this.db.prepare(`SELECT * FROM ${child} WHERE ${key} = ?`).all(id) as Record<
        string,
        unknown
      >[];
    return { table, row, children };
  }

  /**
   * Adds a sweep or a tune copied from another store (`searchRows` of either store), all its rows in
   * one transaction, after its runs were copied: one whose id is here already is left as it is and
   * false is returned, so copying twice adds nothing.
   * @throws TokbenchError `DB_WRITE_FAILED`, `DB_LOCKED`.
   */
  importSearch(rows: SearchRows): boolean {
    return this.write(`copy ${rows.table.slice(0, -1)} ${rows.row.id}`, () =>
      this.db.transaction(() => {
        const added = this.db
          .prepare(insertSql(rows.table).replace(/^INSERT INTO/, "INSERT OR IGNORE INTO"))
          .run(rows.row).changes;
        if (added === 0) return false;
        for (const table of COPIED_SEARCH_TABLES[rows.table].tables) {
          const insert = this.db.prepare(insertSql(table));
          for (const row of rows.children[table] ?? []) insert.run(row);
        }
        return true;
      })(),
    );
  }

  /**
   * Adds a run copied from another store (`runRows` of either store), all its rows in one
   * transaction, as `PostgresStore.importRun` does: a run whose id is here already is left as it
   * is and false is returned, so copying the same history twice adds nothing. The machine is
   * matched by fingerprint (ids differ between stores).
   * @throws TokbenchError `DB_WRITE_FAILED`, `DB_LOCKED`.
   */
  importRun(rows: RunRows): boolean {
    return this.write(`copy run ${rows.runs.id}`, () =>
      this.db.transaction(() => {
        const { id: _id, ...machine } = rows.machine;
        const columns = Object.keys(machine);
        this.db
          .prepare(
            `INSERT INTO machines (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")}) ON CONFLICT (fingerprint) DO NOTHING`,
          )
          .run(machine);
        const machineId = this.db
          .prepare<[string], number>("SELECT id FROM machines WHERE fingerprint = ?")
          .pluck()
          .get(machine.fingerprint) as number;
        const added = this.db
          .prepare(insertSql("runs").replace(/^INSERT INTO/, "INSERT OR IGNORE INTO"))
          .run({ ...rows.runs, machine_id: machineId }).changes;
        if (added === 0) return false;
        for (const table of COPIED_RUN_TABLES) {
          const insert = this.db.prepare(insertSql(table));
          for (const row of rows[table]) insert.run(row);
        }
        return true;
      })(),
    );
  }

  /** Closes the database. Pending WAL content is checkpointed into the main file. */
  close(): void {
    if (this.db.open) this.db.close();
  }

  /**
   * How long each write from now on waits for another process's write lock before failing with
   * `DB_LOCKED`; null restores the value given to {@link open}. A write blocks the thread while it
   * waits (better-sqlite3 is synchronous), so during a measurement `RunRecorder` sets 0 and retries
   * later instead.
   */
  setBusyTimeout(ms: number | null): void {
    const value = ms === null ? this.defaultBusyTimeoutMs : Math.max(0, Math.floor(ms));
    this.db.pragma(`busy_timeout = ${value}`);
  }

  /**
   * Records a run that just started, with status `running`, its configuration (secrets stripped)
   * and its machine (stored once per distinct machine).
   * @throws TokbenchError `DB_WRITE_FAILED`, e.g. when `run_id` already exists.
   */
  beginRun(input: BeginRunInput): void {
    const secrets = [...(input.secrets ?? [])];
    this.secretsByRun.set(input.run_id, secrets);
    // SQLite checkpoints the WAL into the main file (with fsyncs) inside whichever commit crosses
    // 1000 pages: a stall of milliseconds on the event loop in the middle of a measurement. While
    // a run is open the WAL just grows (about 150 bytes per request); finishRun checkpoints.
    this.db.pragma("wal_autocheckpoint = 0");
    try {
      this.insertRun(input, secrets);
    } catch (error) {
      this.secretsByRun.delete(input.run_id);
      if (this.secretsByRun.size === 0)
        this.db.pragma(`wal_autocheckpoint = ${DEFAULT_WAL_AUTOCHECKPOINT_PAGES}`);
      throw error;
    }
  }

  private insertRun(input: BeginRunInput, secrets: readonly string[]): void {
    this.write(`begin run ${input.run_id}`, () => {
      // IMMEDIATE: take the write lock first, so a busy database waits (or fails) at BEGIN rather
      // than half-way through, where SQLite cannot wait without risking a deadlock.
      this.db
        .transaction(() => {
          const row = runStartRow(input, this.machineId(input.machine), secrets);
          this.db.prepare<RunsTable>(insertSql("runs")).run(row);
          writeRunFacts(this.db, input.run_id, runStartFacts(input.config));
          writeRunTags(this.db, input.run_id, input.tags ?? []);
        })
        .immediate();
    });
  }

  /**
   * `record` as this database would give it back once stored (its error message redacted and
   * sanitised), for records of a run not stored yet that are read beside stored ones.
   */
  asStored(runId: string, record: RequestRecord): RequestRecord {
    return recordFromRow(requestRow(runId, record, this.secretsByRun.get(runId) ?? []));
  }

  /**
   * Stores one finished request of a run begun with {@link beginRun}, committed at once.
   * @throws TokbenchError `DB_WRITE_FAILED` when the run is unknown, the index is already stored,
   *   or the disk is full.
   */
  appendRequest(runId: string, record: RequestRecord): void {
    const row = requestRow(runId, record, this.secretsByRun.get(runId) ?? []);
    this.write(`store request ${record.index} of run ${runId}`, () => this.insertRequest.run(row));
  }

  /**
   * Stores several finished requests of a run begun with {@link beginRun} in one transaction (all
   * or none): how a backlog held back by a lock is written without one commit per request.
   * @throws TokbenchError as {@link appendRequest}.
   */
  appendRequests(runId: string, records: readonly RequestRecord[]): void {
    if (records.length === 0) return;
    const secrets = this.secretsByRun.get(runId) ?? [];
    const first = records[0] as RequestRecord;
    this.write(`store requests ${first.index}.. of run ${runId}`, () => {
      this.db
        .transaction(() => {
          for (const record of records) this.insertRequest.run(requestRow(runId, record, secrets));
        })
        .immediate();
    });
  }

  /** How many requests of `runId` the database holds. */
  countRequests(runId: string): number {
    return this.db
      .prepare<[string], number>("SELECT COUNT(*) FROM requests WHERE run_id = ?")
      .pluck()
      .get(runId) as number;
  }

  /**
   * Marks a run that is still `running` as `interrupted`, with `reason` and the end time but no
   * summary: for a run whose process quits at once (a second Ctrl-C) and cannot compute one.
   * Returns false when there was no such running run.
   * @throws TokbenchError `DB_LOCKED` or `DB_WRITE_FAILED`.
   */
  markInterrupted(runId: string, reason: string): boolean {
    const secrets = this.secretsByRun.get(runId) ?? [];
    return (
      this.write(`mark run ${runId} interrupted`, () =>
        this.db
          .prepare(
            "UPDATE runs SET status = 'interrupted', status_reason = ?, ended_at = ? WHERE id = ? AND status = 'running'",
          )
          .run(sanitizeText(redactText(reason, secrets)), new Date().toISOString(), runId),
      ).changes > 0
    );
  }

  /**
   * Records how a run ended: status, reason, end time, summary, resource usage and test rows, in
   * one transaction. Requests of `result.requests` (or `options.requests`) not yet stored are added
   * (so a whole run can also be saved at once, without `beginRun`); stored ones are left as they
   * are. The run row is created if `beginRun` was not called.
   * @throws TokbenchError `DB_WRITE_FAILED`.
   */
  finishRun(result: RunResult, options: FinishRunOptions = {}): void {
    const secrets = [...(this.secretsByRun.get(result.run_id) ?? []), ...(options.secrets ?? [])];
    this.write(`finish run ${result.run_id}`, () => {
      this.db
        .transaction(() => {
          const begun = this.db
            .prepare<[string], Pick<RunsTable, "target_kind" | "model">>(
              "SELECT target_kind, model FROM runs WHERE id = ?",
            )
            .get(result.run_id);
          const row = runFinishRow(result, begun, options, this.machineId(result.machine), secrets);
          this.db
            .prepare<RunsTable>(
              `${insertSql("runs")} ON CONFLICT(id) DO UPDATE ${updateFromExcluded("runs", ["id"])}`,
            )
            .run(row);
          // Keyed on (run_id, idx): a request stored as it finished is not written twice.
          const insertIfNew = this.db.prepare<RequestsTable>(
            `${insertSql("requests")} ON CONFLICT(run_id, idx) DO NOTHING`,
          );
          for (const record of options.requests ?? result.requests) {
            insertIfNew.run(requestRow(result.run_id, record, secrets));
          }
          writeRunFacts(this.db, result.run_id, runFinishFacts(result));
          if (begun === undefined) writeRunTags(this.db, result.run_id, options.tags ?? []);
          writeRunAttachments(this.db, result, options.terminal_text ?? null, secrets);
          this.db.prepare("DELETE FROM tests WHERE run_id = ?").run(result.run_id);
          result.tests.forEach((test, index) => {
            this.insertTest.run(testRow(result.run_id, index, test));
          });
        })
        .immediate();
    });
    this.secretsByRun.delete(result.run_id);
    if (this.secretsByRun.size === 0) {
      this.db.pragma(`wal_autocheckpoint = ${DEFAULT_WAL_AUTOCHECKPOINT_PAGES}`);
      try {
        this.db.pragma("wal_checkpoint(PASSIVE)");
      } catch {
        // Folding the WAL into the main file is housekeeping; the run is committed either way.
      }
    }
  }

  /** Stored runs, most recent first, with their request counts (see `RunHistory.listRuns` for filters). */
  listRuns(options: ListRunsOptions = {}): RunListEntry[] {
    const limit = options.limit === undefined ? undefined : Math.max(0, Math.floor(options.limit));
    return this.historyReader().listRunsSync(limit === undefined ? {} : { limit }).runs;
  }

  /**
   * Reads a run back as a {@link StoredRun}, requests in index order, held in a `RequestTable` (for
   * one record at a time, read `history().requests(runId)`).
   * @throws TokbenchError `RUN_NOT_FOUND`.
   */
  getRun(runId: string): StoredRun {
    const history = this.historyReader();
    const {
      model: _model,
      target_kind: _target,
      request_count: _count,
      tags: _tags,
      workload: _w,
      workload_key: _k,
      ...run
    } = history.readRunSync(runId);
    // Row by row into the column store: a 100k-request run never exists as 100k row objects
    // plus 100k records at once.
    const requests = new RequestTable();
    for (const record of history.iterateRequests(runId)) requests.push(record);
    return { ...run, requests };
  }

  /** Deletes a run with its requests and tests. Returns false when there was no such run. */
  deleteRun(runId: string): boolean {
    return (
      this.write(`delete run ${runId}`, () => this.db.prepare("DELETE FROM runs WHERE id = ?").run(runId))
        .changes > 0
    );
  }

  private liveStatus(row: Pick<RunsTable, "status" | "writer_pid" | "writer_hostname">): StoredRunStatus {
    return liveRunStatus(row);
  }

  private write<T>(what: string, action: () => T): T {
    try {
      return action();
    } catch (error) {
      if (String((error as { code?: unknown }).code ?? "").startsWith("SQLITE_BUSY")) {
        throw new TokbenchError(
          "DB_LOCKED",
          `cannot ${what} in database ${this.path}: another process holds its write lock`,
          { context: { path: this.path }, cause: error },
        );
      }
      throw new TokbenchError(
        "DB_WRITE_FAILED",
        `cannot ${what} in database ${this.path}: ${describe(error)}`,
        {
          context: { path: this.path },
          cause: error,
        },
      );
    }
  }

  private machineId(machine: MachineInfo): number {
    const row = machineRow(machine);
    const fingerprint = row.fingerprint;
    const columns = TABLE_COLUMNS.machines.filter((column) => column !== "id");
    this.db
      .prepare<Omit<MachinesTable, "id">>(
        `INSERT OR IGNORE INTO machines (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`,
      )
      .run(row);
    const found = this.db
      .prepare<[string], Pick<MachinesTable, "id">>("SELECT id FROM machines WHERE fingerprint = ?")
      .get(fingerprint);
    return (found as Pick<MachinesTable, "id">).id;
  }
}
