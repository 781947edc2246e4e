import pg from "pg";
import type { ErrorCode } from "../../errors/ErrorCode.js";
import { TokbenchError } from "../../errors/TokbenchError.js";
import type { MachineInfo } from "../../results/MachineInfo.js";
import type { RequestRecord } from "../../results/RequestRecord.js";
import type { RunResult } from "../../results/RunResult.js";
import { redactText, redactUrl, urlSecrets } from "../../secrets/redact.js";
import { sanitizeText } from "../../text/sanitizeText.js";
import { type DatabaseSchema, TABLE_COLUMNS } from "../DatabaseSchema.js";
import { runAttachmentRows, runFinishFacts, runStartFacts } from "../historyRows.js";
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from "../migrations.js";
import type { BeginRunInput, FinishRunOptions, RunRows } from "../RunStore.js";
import { migrationSql } from "../sqlDialect.js";
import {
  COPIED_RUN_TABLES,
  COPIED_SEARCH_TABLES,
  machineRow,
  requestRow,
  runFinishRow,
  runStartRow,
  runTags,
  type SearchRows,
  testRow,
} from "../storedRows.js";
import { updateFromExcluded } from "../tableWrites.js";
import { PostgresRunHistory } from "./PostgresRunHistory.js";

/**
 * The key of the PostgreSQL advisory lock every tokbench takes while it migrates a database: the
 * ASCII bytes "tokb", as SQLite's application id. Held for the migration's transaction only.
 */
export const MIGRATION_LOCK_KEY = 0x746f6b62;

/** Where a PostgreSQL database's schema version is kept (SQLite keeps it in `PRAGMA user_version`). */
const VERSION_TABLE = "tokbench_schema_version";

/** Rows per INSERT: PostgreSQL takes at most 65,535 bound parameters per statement (29 per request). */
const MAX_ROWS_PER_INSERT = 1_000;

/** Options of {@link PostgresStore.open}. */
export interface PostgresStoreOptions {
  /** Connections in the pool. Defaults to 4. */
  maxConnections?: number;
  /** How long a connection attempt may take, in ms. Defaults to 10,000. */
  connectTimeoutMs?: number;
}

/**
 * tokbench's run store in a PostgreSQL database: the same schema as the SQLite file (one set of
 * migrations, rewritten by `migrationSql`), written by several machines at once.
 *
 * The connection string's password (and user name, when it has a password) is a secret: every
 * message this store makes shows the URL through `redactUrl`, and every text from PostgreSQL or
 * the driver goes through `redactText` with the URL's literal secrets before it reaches an error.
 * Nothing of the URL is written into the database.
 */
export class PostgresStore {
  /** The connection URL as it may be shown: password replaced by `[redacted]`. */
  readonly shownUrl: string;
  private readonly secrets: string[];
  private readonly secretsByRun = new Map<string, string[]>();

  private constructor(
    private readonly pool: pg.Pool,
    url: string,
  ) {
    this.shownUrl = redactUrl(url);
    this.secrets = urlSecrets(url);
  }

  /**
   * Connects to `url`, and brings its schema to the latest version under an advisory lock, so
   * several machines starting at once migrate it once.
   * @throws TokbenchError `DB_OPEN_FAILED` (unreachable, refused credentials, a newer schema).
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: "tokbench",
      types: { getTypeParser: typeParser },
    });
    const store = new PostgresStore(pool, url);
    // An idle connection that breaks (server restart) must not crash the process.
    pool.on("error", () => {});
    try {
      await store.migrate();
    } catch (error) {
      await pool.end().catch(() => {});
      throw store.wrap("DB_OPEN_FAILED", "open", error);
    }
    return store;
  }

  /** Closes every connection. */
  async close(): Promise<void> {
    await this.pool.end();
  }

  /** The schema version the database has (0 before any migration). */
  async schemaVersion(): Promise<number> {
    const found = await this.pool.query<{ version: number }>(
      `SELECT version FROM ${VERSION_TABLE} WHERE id = 1`,
    );
    return found.rows[0]?.version ?? 0;
  }

  /**
   * Applies the migrations the database lacks, all in one transaction holding the advisory lock
   * {@link MIGRATION_LOCK_KEY}: a second tokbench migrating at the same moment waits for the lock,
   * then finds the version current and does nothing. PostgreSQL's DDL is transactional, so a
   * process killed half-way leaves the previous version intact; the lock goes with its connection.
   */
  private async migrate(): Promise<void> {
    // Every start but the first finds the schema current: nothing to lock or create, so a role
    // that may only read and write rows (no CREATE on the schema: a team's read-only dashboard
    // user, PostgreSQL 15's default for `public`) can use the database.
    const table = await this.pool.query<{ present: boolean }>(
      `SELECT to_regclass('${VERSION_TABLE}') IS NOT NULL AS present`,
    );
    if (table.rows[0]?.present === true && (await this.schemaVersion()) === LATEST_SCHEMA_VERSION) return;
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${VERSION_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)`,
      );
      const found = await client.query<{ version: number }>(
        `SELECT version FROM ${VERSION_TABLE} WHERE id = 1`,
      );
      const version = found.rows[0]?.version ?? 0;
      if (version > LATEST_SCHEMA_VERSION) {
        throw new TokbenchError(
          "DB_OPEN_FAILED",
          `database ${this.shownUrl} has schema version ${version}, newer than this tokbench supports (${LATEST_SCHEMA_VERSION}); upgrade tokbench or use another --db`,
          { context: { version } },
        );
      }
      for (let index = version; index < MIGRATIONS.length; index++) {
        await client.query(migrationSql(index, "postgres"));
      }
      if (version < LATEST_SCHEMA_VERSION) {
        await client.query(
          `INSERT INTO ${VERSION_TABLE} (id, version) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET version = excluded.version`,
          [LATEST_SCHEMA_VERSION],
        );
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Records a run that just started, status `running`, with its machine (one row per machine
   * fingerprint, shared by every run on it, whichever host wrote first), its configuration
   * (secrets stripped) and the host name and process that write it.
   * @throws TokbenchError `DB_WRITE_FAILED`.
   */
  async beginRun(input: BeginRunInput): Promise<void> {
    const secrets = [...(input.secrets ?? [])];
    this.secretsByRun.set(input.run_id, secrets);
    await this.transaction(`begin run ${input.run_id}`, async (client) => {
      const run = runStartRow(input, await this.machineId(client, input.machine), [
        ...secrets,
        ...this.secrets,
      ]);
      await insert(client, "runs", [run]);
      await insert(client, "run_facts", [{ run_id: input.run_id, ...runStartFacts(input.config) }]);
      const tags = runTags(input.tags ?? []);
      await insert(
        client,
        "run_tags",
        tags.map((tag) => ({ run_id: input.run_id, tag })),
      );
    });
  }

  /**
   * Stores finished requests of a run begun with {@link beginRun} in one transaction (all or none).
   * A request already stored (same run and index) is left as it is, so a batch retried after a
   * lost connection never duplicates one.
   * @throws TokbenchError `DB_WRITE_FAILED`.
   */
  async appendRequests(runId: string, records: readonly RequestRecord[]): Promise<void> {
    if (records.length === 0) return;
    const secrets = [...(this.secretsByRun.get(runId) ?? []), ...this.secrets];
    const rows = records.map((record) => requestRow(runId, record, secrets));
    const what = `store ${records.length} requests of run ${runId}`;
    if (rows.every(finiteNumbers)) {
      // The batched writer's path: the whole batch as one JSON parameter, unpacked by the server
      // (`json_populate_recordset`), in one statement, atomic on its own. A multi-row INSERT with
      // 29 bound parameters a row costs the client a conversion per value and the server the parse
      // of a statement with tens of thousands of parameters, and BEGIN/COMMIT two more round trips:
      // on a busy machine that made commits lag the requests by seconds (bench:store-writers).
      const columns = TABLE_COLUMNS.requests.join(", ");
      try {
        await this.pool.query(
          `INSERT INTO requests (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::requests, $1::json) ON CONFLICT DO NOTHING`,
          [JSON.stringify(rows)],
        );
      } catch (error) {
        throw this.wrap("DB_WRITE_FAILED", what, error);
      }
      return;
    }
    // JSON has no NaN or Infinity: such a value goes as a bound parameter, as PostgreSQL spells it.
    await this.transaction(what, async (client) => {
      await insertRequests(client, rows);
    });
  }

  /**
   * Records how a run ended, in one transaction: the run row (created when {@link beginRun} was
   * not called), every request of `options.requests` (default: the result's) not stored yet, its
   * facts, distributions, resource samples, printed text and test rows, as `RunStore.finishRun`
   * does for SQLite.
   * @throws TokbenchError `DB_WRITE_FAILED`.
   */
  async finishRun(result: RunResult, options: FinishRunOptions = {}): Promise<void> {
    const runId = result.run_id;
    const secrets = [...(this.secretsByRun.get(runId) ?? []), ...(options.secrets ?? []), ...this.secrets];
    await this.transaction(`finish run ${runId}`, async (client) => {
      const begun = await client.query<Pick<DatabaseSchema["runs"], "target_kind" | "model">>(
        "SELECT target_kind, model FROM runs WHERE id = $1",
        [runId],
      );
      const before = begun.rows[0];
      const machineId = await this.machineId(client, result.machine);
      const run = runFinishRow(result, before, options, machineId, secrets);
      await insert(client, "runs", [run], `ON CONFLICT (id) DO UPDATE ${updateFromExcluded("runs", ["id"])}`);
      // The requests the batched writer could not store, streamed from the run's log in chunks:
      // never all of them in memory at once.
      let rows: DatabaseSchema["requests"][] = [];
      for (const record of options.requests ?? result.requests) {
        rows.push(requestRow(runId, record, secrets));
        if (rows.length === MAX_ROWS_PER_INSERT) {
          await insertRequests(client, rows);
          rows = [];
        }
      }
      await insertRequests(client, rows);
      const facts = { run_id: runId, ...runFinishFacts(result) };
      await insert(
        client,
        "run_facts",
        [facts],
        `ON CONFLICT (run_id) DO UPDATE ${updateFromExcluded("run_facts", ["run_id"])}`,
      );
      if (before === undefined) {
        const tags = runTags(options.tags ?? []);
        await insert(
          client,
          "run_tags",
          tags.map((tag) => ({ run_id: runId, tag })),
          "ON CONFLICT DO NOTHING",
        );
      }
      const attachments = runAttachmentRows(result, options.terminal_text ?? null, secrets);
      for (const table of ["run_distributions", "resource_samples", "run_outputs", "tests"] as const) {
        await client.query(`DELETE FROM ${table} WHERE run_id = $1`, [runId]);
      }
      await insert(client, "run_distributions", attachments.run_distributions);
      await insert(client, "resource_samples", attachments.resource_samples);
      await insert(client, "run_outputs", attachments.run_outputs);
      await insert(
        client,
        "tests",
        result.tests.map((test, index) => testRow(runId, index, test)),
      );
    });
    this.secretsByRun.delete(runId);
  }

  /**
   * Marks a run still `running` as `interrupted`, with `reason` and the end time but no summary.
   * Returns false when there was no such running run.
   * @throws TokbenchError `DB_WRITE_FAILED`.
   */
  async markInterrupted(runId: string, reason: string): Promise<boolean> {
    const secrets = [...(this.secretsByRun.get(runId) ?? []), ...this.secrets];
    const done = await this.query(
      `mark run ${runId} interrupted`,
      "UPDATE runs SET status = 'interrupted', status_reason = $1, ended_at = $2 WHERE id = $3 AND status = 'running'",
      [sanitizeText(redactText(reason, secrets)), new Date().toISOString(), runId],
    );
    return (done.rowCount ?? 0) > 0;
  }

  private async machineId(client: pg.PoolClient, machine: MachineInfo): Promise<number> {
    const row = machineRow(machine);
    await insert(client, "machines", [row], "ON CONFLICT (fingerprint) DO NOTHING");
    const found = await client.query<{ id: number }>("SELECT id FROM machines WHERE fingerprint = $1", [
      row.fingerprint,
    ]);
    return Number(found.rows[0]?.id);
  }

  /**
   * Adds a run copied from another store (`RunStore.runRows`), all its rows in one transaction.
   * A run whose id is here already is left as it is and false is returned, so copying the same
   * history twice adds nothing. The machine is matched by fingerprint (ids differ between stores).
   * @throws TokbenchError `DB_WRITE_FAILED`.
   */
  async importRun(rows: RunRows): Promise<boolean> {
    let added = false;
    await this.transaction(`copy run ${rows.runs.id}`, async (client) => {
      const { id: _id, ...machine } = rows.machine;
      await insert(client, "machines", [machine], "ON CONFLICT (fingerprint) DO NOTHING");
      const found = await client.query<{ id: number }>("SELECT id FROM machines WHERE fingerprint = $1", [
        machine.fingerprint,
      ]);
      const run = { ...rows.runs, machine_id: Number(found.rows[0]?.id) };
      const inserted = await insert(client, "runs", [run], "ON CONFLICT (id) DO NOTHING");
      if (inserted === 0) return;
      added = true;
      for (const table of COPIED_RUN_TABLES) {
        if (table === "requests") await insertRequests(client, rows.requests);
        else await insert(client, table, rows[table] as Partial<DatabaseSchema[typeof table]>[]);
      }
    });
    return added;
  }

  /**
   * Adds a sweep or a tune copied from another store (`searchRows` of either store), all its rows in
   * one transaction, after its runs were copied: one whose id is here already is left as it is and
   * false is returned, so copying twice adds nothing.
   * @throws TokbenchError `DB_WRITE_FAILED`.
   */
  async importSearch(rows: SearchRows): Promise<boolean> {
    return this.transaction(`copy ${rows.table.slice(0, -1)} ${rows.row.id}`, async (client) => {
      const inserted = await insert(client, rows.table, [rows.row], "ON CONFLICT (id) DO NOTHING");
      if (inserted === 0) return false;
      for (const table of COPIED_SEARCH_TABLES[rows.table].tables) {
        const children = rows.children[table] ?? [];
        for (let start = 0; start < children.length; start += MAX_ROWS_PER_INSERT)
          await insert(client, table, children.slice(start, start + MAX_ROWS_PER_INSERT) as never[]);
      }
      return true;
    });
  }

  /** How many requests of `runId` the database holds. */
  async countRequests(runId: string): Promise<number> {
    const found = await this.query("count requests", "SELECT COUNT(*) AS n FROM requests WHERE run_id = $1", [
      runId,
    ]);
    return Number((found.rows[0] as { n: string }).n);
  }

  /** Stored indexes of `runId`'s requests, ascending. */
  async storedIndexes(runId: string): Promise<number[]> {
    const found = await this.query(
      "read requests",
      "SELECT idx FROM requests WHERE run_id = $1 ORDER BY idx",
      [runId],
    );
    return found.rows.map((row) => Number((row as { idx: string }).idx));
  }

  /**
   * Runs one statement, errors as `code` (default `DB_WRITE_FAILED`) with the URL's secrets
   * redacted. For tests, tools and the history reader; the store's own writes go through its methods.
   */
  async query(
    what: string,
    sql: string,
    params: unknown[] = [],
    code: ErrorCode = "DB_WRITE_FAILED",
  ): Promise<pg.QueryResult> {
    try {
      return await this.pool.query(sql, params);
    } catch (error) {
      throw this.wrap(code, what, error);
    }
  }

  /**
   * The readers of the run history (`runs`, `show`, `compare`, `regress`, `report`, `export`,
   * `accept`) over this database, behind the same `RunHistory` interface as SQLite's.
   */
  history(): PostgresRunHistory {
    return new PostgresRunHistory(this);
  }

  /**
   * Runs `body` in one transaction on one connection: committed when it returns, rolled back when
   * it throws; errors as `DB_WRITE_FAILED` with the URL's secrets redacted. For the stores built
   * on this one (`PostgresSweepStore`).
   */
  async transaction<T>(what: string, body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      throw this.wrap("DB_WRITE_FAILED", what, error);
    }
    try {
      await client.query("BEGIN");
      const value = await body(client);
      await client.query("COMMIT");
      return value;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw this.wrap("DB_WRITE_FAILED", what, error);
    } finally {
      client.release();
    }
  }

  /** A driver or server error as a TokbenchError whose message holds no secret of the URL. */
  private wrap(code: ErrorCode, what: string, error: unknown): TokbenchError {
    if (error instanceof TokbenchError) return error;
    const reason = redactText(error instanceof Error ? error.message : String(error), this.secrets);
    const sqlState = (error as { code?: unknown }).code;
    // The cause is not attached: the driver's error objects can hold the connection parameters.
    return new TokbenchError(code, `cannot ${what} in PostgreSQL database ${this.shownUrl}: ${reason}`, {
      context: { url: this.shownUrl, ...(typeof sqlState === "string" ? { sql_state: sqlState } : {}) },
    });
  }
}

/**
 * One multi-row INSERT of `rows` into `table`, columns in `TABLE_COLUMNS` order (those the rows
 * have). Returns the rows inserted (fewer than given when `suffix` says ON CONFLICT DO NOTHING).
 */
export async function insert<T extends keyof DatabaseSchema>(
  client: pg.PoolClient,
  table: T,
  rows: readonly Partial<DatabaseSchema[T]>[],
  suffix = "",
): Promise<number> {
  const first = rows[0];
  if (first === undefined) return 0;
  const columns = (TABLE_COLUMNS[table] as string[]).filter((column) => column in first);
  const params: unknown[] = [];
  const tuples = rows.map((row) => {
    const marks = columns.map((column) => {
      params.push((row as Record<string, unknown>)[column]);
      return `$${params.length}`;
    });
    return `(${marks.join(", ")})`;
  });
  const done = await client.query(
    `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${tuples.join(", ")} ${suffix}`,
    params,
  );
  return done.rowCount ?? 0;
}

/**
 * Request rows, {@link MAX_ROWS_PER_INSERT} per statement; a request already stored (same run and
 * index) is left as it is.
 */
async function insertRequests(
  client: pg.PoolClient,
  rows: readonly DatabaseSchema["requests"][],
): Promise<void> {
  for (let start = 0; start < rows.length; start += MAX_ROWS_PER_INSERT) {
    await insert(
      client,
      "requests",
      rows.slice(start, start + MAX_ROWS_PER_INSERT),
      "ON CONFLICT DO NOTHING",
    );
  }
}

/** Whether every number of `row` is finite (JSON can carry it). */
function finiteNumbers(row: DatabaseSchema["requests"]): boolean {
  for (const value of Object.values(row))
    if (typeof value === "number" && !Number.isFinite(value)) return false;
  return true;
}

/**
 * BIGINT (the schema's integers, see `migrationSql`) read as a JavaScript number, as SQLite hands
 * them back: tokbench's integers (counts, indexes, bytes) stay far below 2^53.
 */
const typeParser = ((oid: number, format?: "text" | "binary") =>
  oid === pg.types.builtins.INT8
    ? (value: string) => Number(value)
    : pg.types.getTypeParser(oid, format ?? "text")) as typeof pg.types.getTypeParser;

/** JSON of `value` with its secrets redacted (after a round trip that drops what JSON cannot hold). */
