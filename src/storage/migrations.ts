import type BetterSqlite3 from "better-sqlite3";
import { TokbenchError } from "../errors/TokbenchError.js";

/**
 * Schema migrations, in order. Migration `i` takes the database from `PRAGMA user_version` `i` to
 * `i + 1`. Never edit a released migration: append a new one, so every existing database file can
 * be brought forward step by step. Column names and types must match `DatabaseSchema.ts`.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE machines (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    hostname TEXT NOT NULL,
    os TEXT NOT NULL,
    os_release TEXT NOT NULL,
    arch TEXT NOT NULL,
    cpu_model TEXT NOT NULL,
    cpu_cores INTEGER NOT NULL,
    total_memory_bytes INTEGER NOT NULL,
    node_version TEXT NOT NULL,
    gpus_json TEXT NOT NULL,
    engine TEXT,
    llama_cpp_version TEXT,
    first_seen_at TEXT NOT NULL
  );

  CREATE TABLE runs (
    id TEXT PRIMARY KEY,
    result_schema_version INTEGER NOT NULL,
    tool_version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'aborted')),
    status_reason TEXT,
    target_kind TEXT,
    model TEXT,
    machine_id INTEGER NOT NULL REFERENCES machines(id),
    config_json TEXT NOT NULL,
    summary_json TEXT,
    resources_json TEXT,
    writer_pid INTEGER NOT NULL,
    writer_hostname TEXT NOT NULL
  );
  CREATE INDEX runs_started_at ON runs(started_at);
  CREATE INDEX runs_machine_id ON runs(machine_id);

  CREATE TABLE requests (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    planned_offset_ms REAL NOT NULL,
    sent_offset_ms REAL NOT NULL,
    dispatch_lag_ms REAL NOT NULL,
    http_status INTEGER,
    ttft_ms REAL,
    e2e_ms REAL NOT NULL,
    decode_ms REAL,
    prompt_tokens INTEGER,
    output_tokens INTEGER NOT NULL,
    token_source TEXT NOT NULL,
    chunks INTEGER NOT NULL,
    decode_tps REAL,
    decode_tps_source TEXT,
    tpot_ms REAL,
    prefill_tps REAL,
    flags_json TEXT NOT NULL,
    error_code TEXT,
    error_message TEXT,
    error_status INTEGER,
    server_source TEXT,
    server_prompt_tokens INTEGER,
    server_prompt_ms REAL,
    server_prefill_tps REAL,
    server_output_tokens INTEGER,
    server_decode_ms REAL,
    server_decode_tps REAL,
    server_cached_tokens INTEGER,
    PRIMARY KEY (run_id, idx)
  ) WITHOUT ROWID;

  CREATE TABLE tests (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    n_prompt INTEGER,
    n_gen INTEGER,
    n_depth INTEGER,
    n_threads INTEGER,
    n_batch INTEGER,
    n_gpu_layers INTEGER,
    type_k TEXT,
    flash_attn INTEGER,
    avg_ts REAL,
    stddev_ts REAL,
    row_json TEXT NOT NULL,
    PRIMARY KEY (run_id, idx)
  );
  `,
  // 2: history — what `runs`, `show`, `compare`, `regress`, `report` and `export` read back. Plain
  // SQL that PostgreSQL also accepts (no WITHOUT ROWID, no JSON functions, TEXT not BLOB), so the
  // second dialect can take it as it is. Runs stored before it have NULL in the new run columns;
  // the readers fall back to the run's summary for them. The facts `tokbench runs` lists sit in a
  // narrow table of their own: as columns appended to `runs` they would come after the large JSON
  // columns in every record, and reading them would walk each run's overflow pages (~65 ms per
  // 1,000 runs).
  `
  CREATE TABLE run_facts (
    run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    workload_key TEXT,
    workload TEXT,
    requests_total INTEGER,
    requests_failed INTEGER,
    headline_json TEXT
  );
  CREATE INDEX run_facts_workload_key ON run_facts(workload_key);
  CREATE INDEX runs_model_started_at ON runs(model, started_at);

  CREATE TABLE run_tags (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (run_id, tag)
  );
  CREATE INDEX run_tags_tag ON run_tags(tag);

  CREATE TABLE run_distributions (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    metric TEXT NOT NULL,
    encoding TEXT NOT NULL,
    value_scale REAL NOT NULL,
    histogram TEXT NOT NULL,
    PRIMARY KEY (run_id, metric)
  );

  CREATE TABLE resource_samples (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    offset_ms REAL NOT NULL,
    span_ms REAL NOT NULL,
    rss_bytes REAL,
    cpu_percent REAL,
    gpu_memory_bytes REAL,
    gpu_utilization_percent REAL,
    disk_read_bytes REAL,
    disk_write_bytes REAL,
    PRIMARY KEY (run_id, idx)
  );

  CREATE TABLE run_outputs (
    run_id TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    terminal_text TEXT NOT NULL
  );

  CREATE TABLE baselines (
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    model TEXT,
    workload_key TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    PRIMARY KEY (run_id, accepted_at)
  );
  CREATE INDEX baselines_lookup ON baselines(workload_key, accepted_at);
  `,
  // 3: sweeps, their cells, and the runs (replicates) of each cell. Plain SQL as in 2, so PostgreSQL
  // can take it too.
  `
  CREATE TABLE sweeps (
    id TEXT PRIMARY KEY,
    tool_version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'aborted')),
    status_reason TEXT,
    spec_json TEXT NOT NULL,
    planned_cells INTEGER NOT NULL,
    timing_json TEXT,
    writer_pid INTEGER NOT NULL,
    writer_hostname TEXT NOT NULL
  );
  CREATE INDEX sweeps_started_at ON sweeps(started_at);

  CREATE TABLE sweep_cells (
    sweep_id TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    cell_key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    knobs_json TEXT NOT NULL,
    workload_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('feasible', 'infeasible', 'failed', 'skipped', 'wont_fit')),
    reason TEXT,
    failure TEXT,
    memory_failure INTEGER NOT NULL,
    notes_json TEXT NOT NULL,
    summary_json TEXT,
    run_id TEXT REFERENCES runs(id) ON DELETE SET NULL,
    skipped_because INTEGER,
    log_path TEXT,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (sweep_id, cell_key)
  );

  CREATE TABLE sweep_runs (
    sweep_id TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    cell_key TEXT NOT NULL,
    replicate INTEGER NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    feasible INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    reason TEXT,
    figures_json TEXT NOT NULL,
    checks_json TEXT NOT NULL,
    notes_json TEXT NOT NULL,
    PRIMARY KEY (sweep_id, cell_key, replicate)
  );
  CREATE INDEX sweep_runs_run_id ON sweep_runs(run_id);
  `,
  // 4: tunes and their trials (each trial: a configuration, its replicates' figures, the verdict).
  `
  CREATE TABLE tunes (
    id TEXT PRIMARY KEY,
    tool_version TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted')),
    exit_reason TEXT,
    spec_json TEXT NOT NULL,
    recipe_json TEXT,
    writer_pid INTEGER NOT NULL,
    writer_hostname TEXT NOT NULL
  );
  CREATE INDEX tunes_started_at ON tunes(started_at);

  CREATE TABLE tune_trials (
    tune_id TEXT NOT NULL REFERENCES tunes(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    stage TEXT NOT NULL CHECK (stage IN ('fit', 'search')),
    kind TEXT NOT NULL CHECK (kind IN ('probe', 'baseline', 'candidate', 'anchor')),
    configuration_json TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('feasible', 'infeasible', 'failed')),
    failure TEXT,
    reason TEXT,
    value REAL,
    ttft_p95_ms REAL,
    spread REAL,
    reference REAL,
    elapsed_ms REAL NOT NULL,
    replicates_json TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    PRIMARY KEY (tune_id, idx)
  ) WITHOUT ROWID;
  `,
  // 5: the work queue of a sweep spread over several machines (`tokbench worker`): one row per
  // cell, claimed under a lease that the holder renews; a cell whose lease ran out (its worker
  // died) is claimed again by another. Lease times are the database server's clock, in ms.
  `
  CREATE TABLE sweep_queue (
    sweep_id TEXT NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    cell_key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    configuration INTEGER NOT NULL,
    machine_class TEXT,
    state TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'done')),
    worker TEXT,
    lease_until_ms INTEGER,
    claims INTEGER NOT NULL,
    run_id TEXT,
    PRIMARY KEY (sweep_id, cell_key)
  );
  CREATE INDEX sweep_queue_claim ON sweep_queue(state, sweep_id, idx);
  `,
  // 6: a covering index for listing runs (\`tokbench runs\`): the listed columns of \`runs\`, so the
  // newest-first scan reads the index (about 350 pages for 10,000 runs) instead of the rows, each of
  // which carries its 1.6 kB summary (about 5,000 pages). The listing query over 10,000 runs: 55 ms
  // before, 38 ms after, in one process on this project's 2-core VM.
  `
  CREATE INDEX runs_list ON runs(started_at, id, ended_at, status, status_reason, tool_version, target_kind, model, machine_id);
  `,
];

/** The `user_version` a database has once every migration ran. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.length;

/**
 * tokbench's SQLite application id (`PRAGMA application_id`, bytes 68-71 of the file): the ASCII
 * bytes "tokb", 0x746F6B62 = 1953459042. Every database tokbench creates carries it, so any program
 * can tell a tokbench database from another application's; `databaseOwnership.ts` checks it
 * before a file is opened for writing.
 */
export const TOKBENCH_APPLICATION_ID = 0x746f6b62;

/**
 * Brings `db` to {@link LATEST_SCHEMA_VERSION}. Each step runs in its own transaction together with
 * its `user_version` bump, so a crash mid-migration leaves the previous version intact. Refuses a
 * database written by a newer tokbench rather than guessing at its layout.
 *
 * Several processes may open a new database at the same moment (a run and a reader started
 * together): each step takes the write lock first (`BEGIN IMMEDIATE`) and reads the version again
 * inside it, so a step another process already applied is skipped, not applied twice.
 *
 * The first step only runs on a database with no table at all, checked inside its transaction
 * (another application may have created tables since the file was looked at), and stamps tokbench's
 * application id with the schema. A database of tokbench's written before the id existed gets it
 * on the way, when the write lock is free.
 */
export function migrate(db: BetterSqlite3.Database, path: string): void {
  const readVersion = (): number => {
    const version = db.pragma("user_version", { simple: true }) as number;
    if (version > LATEST_SCHEMA_VERSION) {
      throw new TokbenchError(
        "DB_OPEN_FAILED",
        `database ${path} has schema version ${version}, newer than this tokbench supports (${LATEST_SCHEMA_VERSION}); upgrade tokbench or use another --db`,
        { context: { path, version } },
      );
    }
    return version;
  };
  if (readVersion() === LATEST_SCHEMA_VERSION) {
    stampApplicationId(db);
    return;
  }
  const step = db.transaction((): boolean => {
    const version = readVersion();
    if (version === LATEST_SCHEMA_VERSION) return false;
    if (version === 0) {
      const objects = db.prepare("SELECT COUNT(*) FROM sqlite_schema").pluck().get() as number;
      const id = db.pragma("application_id", { simple: true }) as number;
      if (objects > 0 || (id !== 0 && id !== TOKBENCH_APPLICATION_ID)) {
        throw new TokbenchError(
          "DB_OPEN_FAILED",
          `${path} is another application's database (it has tables but no tokbench schema); tokbench leaves it untouched: choose another --db (or TOKBENCH_DB)`,
          { context: { path } },
        );
      }
      db.pragma(`application_id = ${TOKBENCH_APPLICATION_ID}`);
    } else if (db.pragma("application_id", { simple: true }) === 0) {
      // A database of tokbench's written before the id existed, brought forward: stamp it too.
      db.pragma(`application_id = ${TOKBENCH_APPLICATION_ID}`);
    }
    db.exec(MIGRATIONS[version] as string);
    // PRAGMA cannot take bound parameters; `version` is an integer we computed.
    db.pragma(`user_version = ${version + 1}`);
    return true;
  });
  while (step.immediate()) {
    // One migration per transaction until none is left.
  }
  // A database of tokbench's from before the id existed, just brought forward.
  stampApplicationId(db);
}

/** Adds tokbench's application id to a database of its own written before the id existed. */
function stampApplicationId(db: BetterSqlite3.Database): void {
  if (db.pragma("application_id", { simple: true }) === TOKBENCH_APPLICATION_ID) return;
  try {
    db.transaction(() => {
      if (db.pragma("application_id", { simple: true }) === 0)
        db.pragma(`application_id = ${TOKBENCH_APPLICATION_ID}`);
    }).immediate();
  } catch (error) {
    // Another process holds the write lock: the id is added on a later open; nothing depends on it now.
    if (!String((error as { code?: unknown }).code ?? "").startsWith("SQLITE_BUSY")) throw error;
  }
}
