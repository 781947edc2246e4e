/**
 * The one typed description of tokbench's SQLite database: one interface per table, one property
 * per column, with the TypeScript type of what SQLite hands back. Every statement in
 * `src/storage/` is written against these interfaces, and the column lists below are checked by
 * the compiler to name every column exactly once, so the schema cannot drift silently from the
 * code. The DDL lives in `migrations.ts`; a test checks it against these lists. Documented for
 * users in docs/database.md.
 */

/** SQLite stores booleans as 0/1 integers. */
export type SqliteBoolean = 0 | 1;

/** One machine a run happened on, stored once however many runs it served. */
export interface MachinesTable {
  id: number;
  /** sha256 of the canonical JSON of the whole `MachineInfo`: identical machines share a row. */
  fingerprint: string;
  hostname: string;
  os: string;
  os_release: string;
  arch: string;
  cpu_model: string;
  cpu_cores: number;
  total_memory_bytes: number;
  node_version: string;
  /** JSON array of `GpuInfo`. */
  gpus_json: string;
  engine: string | null;
  llama_cpp_version: string | null;
  /** ISO time this machine was first stored. */
  first_seen_at: string;
}

/** `running` until the run finishes; a run whose process died keeps it (read back as `incomplete`). */
export type StoredRunRowStatus = "running" | "completed" | "interrupted" | "aborted";

/** One benchmark run. */
export interface RunsTable {
  id: string;
  /** `RESULT_SCHEMA_VERSION` of the result this run was written from. */
  result_schema_version: number;
  tool_version: string;
  started_at: string;
  ended_at: string | null;
  status: StoredRunRowStatus;
  status_reason: string | null;
  /** The target's kind (`openai-chat`, `ollama`, `embedded`, ...), when known. */
  target_kind: string | null;
  /** Model name or file, when known. */
  model: string | null;
  machine_id: number;
  /** The configuration as JSON, secrets stripped. */
  config_json: string;
  /** `RunSummary` as JSON; null while running or when the process died. */
  summary_json: string | null;
  /** `ResourceUsage` as JSON; null when nothing was sampled. */
  resources_json: string | null;
  /** Process that wrote the run, so a `running` row can be told apart from a dead one. */
  writer_pid: number;
  writer_hostname: string;
}

/** What `tokbench runs` lists of a run, beside its row (schema 2). */
export interface RunFactsTable {
  run_id: string;
  /** What was measured, as a key: runs with equal keys can be compared row for row (`workloadIdentity`). */
  workload_key: string | null;
  /** The same, for people (`pp512 tg128`, `c4, 128→128 tok`). */
  workload: string | null;
  /** Requests stored when the run finished; null while running (count the rows). */
  requests_total: number | null;
  requests_failed: number | null;
  /** JSON of the few figures `tokbench runs` prints (`RunHeadline`); null while running. */
  headline_json: string | null;
}

/** One finished request: every `RequestRecord` field as a column. */
export interface RequestsTable {
  run_id: string;
  /** `RequestRecord.index`. */
  idx: number;
  planned_offset_ms: number;
  sent_offset_ms: number;
  dispatch_lag_ms: number;
  http_status: number | null;
  ttft_ms: number | null;
  e2e_ms: number;
  decode_ms: number | null;
  prompt_tokens: number | null;
  output_tokens: number;
  token_source: string;
  chunks: number;
  decode_tps: number | null;
  /** `client` or `server`: whose figure `decode_tps` is. */
  decode_tps_source: string | null;
  tpot_ms: number | null;
  prefill_tps: number | null;
  /** JSON array of trust flags. */
  flags_json: string;
  error_code: string | null;
  error_message: string | null;
  error_status: number | null;
  /** Non-null exactly when the request has server timings. */
  server_source: string | null;
  server_prompt_tokens: number | null;
  server_prompt_ms: number | null;
  server_prefill_tps: number | null;
  server_output_tokens: number | null;
  server_decode_ms: number | null;
  server_decode_tps: number | null;
  server_cached_tokens: number | null;
}

/** One llama-bench-style test row: the whole row as JSON plus its key fields as columns for queries. */
export interface TestsTable {
  run_id: string;
  /** Position of the row in `RunResult.tests`. */
  idx: number;
  n_prompt: number | null;
  n_gen: number | null;
  n_depth: number | null;
  n_threads: number | null;
  n_batch: number | null;
  n_gpu_layers: number | null;
  type_k: string | null;
  flash_attn: SqliteBoolean | null;
  avg_ts: number | null;
  stddev_ts: number | null;
  row_json: string;
}

/** A label on a run (`bench --tag`). */
export interface RunTagsTable {
  run_id: string;
  tag: string;
}

/** One latency or rate distribution of a run, lossless to the histogram's 3 significant digits. */
export interface RunDistributionsTable {
  run_id: string;
  /** The summary field it belongs to: `ttft_ms`, `itl_ms`, `e2e_ms`, `chunk_gap_ms`, ... */
  metric: string;
  /** `hdr-v2-base64`: HdrHistogram's V2 compressed encoding, base64. */
  encoding: string;
  /** Recorded values are the metric's values multiplied by this (1000: µs for ms). */
  value_scale: number;
  histogram: string;
}

/** One point of the resource sampler's time series (merged pairwise beyond 4,096 points). */
export interface ResourceSamplesTable {
  run_id: string;
  idx: number;
  /** Start of the point since sampling started, ms. */
  offset_ms: number;
  /** Time the point covers, ms (one sampling interval, or more after merging). */
  span_ms: number;
  rss_bytes: number | null;
  cpu_percent: number | null;
  gpu_memory_bytes: number | null;
  gpu_utilization_percent: number | null;
  /** Bytes read from storage since sampling started (cumulative). */
  disk_read_bytes: number | null;
  disk_write_bytes: number | null;
}

/** What the run printed on the terminal, for `tokbench show`. */
export interface RunOutputsTable {
  run_id: string;
  terminal_text: string;
}

/** A run accepted as the baseline of its model and workload (`tokbench accept`). */
export interface BaselinesTable {
  run_id: string;
  model: string | null;
  workload_key: string;
  accepted_at: string;
}

/** `running` until the sweep ends; a sweep whose process died keeps it (read back as `incomplete`). */
export type StoredSweepRowStatus = "running" | "completed" | "interrupted" | "aborted";

/** One sweep (`tokbench sweep`): what it was asked to do and how it ended. */
export interface SweepsTable {
  id: string;
  tool_version: string;
  started_at: string;
  ended_at: string | null;
  status: StoredSweepRowStatus;
  status_reason: string | null;
  /** The `SweepSpec` as JSON: enough to plan the same sweep again (`--resume`). */
  spec_json: string;
  /** Cells in the plan. */
  planned_cells: number;
  /** `SweepTiming` as JSON (where the wall time went); null while running. */
  timing_json: string | null;
  writer_pid: number;
  writer_hostname: string;
}

/** One finished cell of a sweep (a cell not yet run has no row). */
export interface SweepCellsTable {
  sweep_id: string;
  /** Stable identity of the cell: its knob and workload values. */
  cell_key: string;
  /** Position in the plan's run order. */
  idx: number;
  knobs_json: string;
  workload_json: string;
  status: "feasible" | "infeasible" | "failed" | "skipped" | "wont_fit";
  reason: string | null;
  /** Failure class (`oom`, `crash`, `ready_timeout`, `bad_args`, `port_in_use`) when a server failed. */
  failure: string | null;
  /** 1 when the failure means memory: heavier cells are skipped. */
  memory_failure: SqliteBoolean;
  /** JSON array of up to three distinct (status, error) pairs. */
  notes_json: string;
  /** The cell's figures (median over replicates) as JSON; null when nothing was measured. */
  summary_json: string | null;
  /** The run of the first replicate, when there is one. */
  run_id: string | null;
  /** Index of the cell whose failure made this one skipped. */
  skipped_because: number | null;
  /** The server's log of the launch that served (or failed) this cell. */
  log_path: string | null;
  finished_at: string;
}

/** One measurement (replicate) of a cell: an ordinary run, linked to its sweep. */
export interface SweepRunsTable {
  sweep_id: string;
  cell_key: string;
  /** 0-based. */
  replicate: number;
  run_id: string;
  feasible: SqliteBoolean;
  /** 1 when requests failed or the run stopped early (not a gate-only failure). */
  errors: SqliteBoolean;
  reason: string | null;
  /** `CellFigures` as JSON. */
  figures_json: string;
  /** The gate's checks as JSON. */
  checks_json: string;
  notes_json: string;
}

/**
 * One cell of a sweep spread over several machines (`tokbench worker`), as a unit of work: queued,
 * leased by one worker until `lease_until_ms` (renewed while it runs), or done (its `sweep_cells`
 * row is written in the same transaction).
 */
export interface SweepQueueTable {
  sweep_id: string;
  cell_key: string;
  /** Position in the plan's run order: workers claim the lightest cells first. */
  idx: number;
  /** Index of the cell's server configuration: a worker prefers cells of the server it has running. */
  configuration: number;
  /** The machine class a worker must have to claim the cell; null: any machine. */
  machine_class: string | null;
  state: "queued" | "leased" | "done";
  /** The worker holding (or that last held) the cell: host, pid and a random id. */
  worker: string | null;
  /** End of the lease, ms since the epoch on the database server's clock. */
  lease_until_ms: number | null;
  /** Times the cell was claimed: more than 1 when a lease ran out or a worker gave it back. */
  claims: number;
  /** The run the holder is measuring, so a worker that takes the cell over can close it. */
  run_id: string | null;
}

/** `running` until the tune ends; a tune whose process died keeps it (read back as `incomplete`). */
export type StoredTuneRowStatus = "running" | "completed" | "interrupted";

/** One tune (`tokbench tune`): its inputs, how it ended and its recipe. */
export interface TunesTable {
  id: string;
  tool_version: string;
  started_at: string;
  ended_at: string | null;
  status: StoredTuneRowStatus;
  /** The recipe's `exit_reason` once the tune ended. */
  exit_reason: string | null;
  /** The tune's spec as JSON: enough to run the same tune again (`--resume`). */
  spec_json: string;
  /** The recipe as JSON once the tune ended. */
  recipe_json: string | null;
  writer_pid: number;
  writer_hostname: string;
}

/** One trial of a tune: a configuration measured with its replicates, stored as it finishes. */
export interface TuneTrialsTable {
  tune_id: string;
  /** Position in the tune (0-based). */
  idx: number;
  stage: "fit" | "search";
  kind: "probe" | "baseline" | "candidate" | "anchor";
  configuration_json: string;
  status: "feasible" | "infeasible" | "failed";
  failure: string | null;
  reason: string | null;
  /** The objective's figure (median over replicates). */
  value: number | null;
  ttft_p95_ms: number | null;
  /** Relative standard deviation of the replicates' values. */
  spread: number | null;
  /** The baseline value the trial is compared against. */
  reference: number | null;
  elapsed_ms: number;
  /** The replicates' measurements (with their run ids) as JSON. */
  replicates_json: string;
  finished_at: string;
}

/** The whole database. */
export interface DatabaseSchema {
  machines: MachinesTable;
  runs: RunsTable;
  requests: RequestsTable;
  tests: TestsTable;
  run_facts: RunFactsTable;
  run_tags: RunTagsTable;
  run_distributions: RunDistributionsTable;
  resource_samples: ResourceSamplesTable;
  run_outputs: RunOutputsTable;
  baselines: BaselinesTable;
  sweeps: SweepsTable;
  sweep_cells: SweepCellsTable;
  sweep_runs: SweepRunsTable;
  sweep_queue: SweepQueueTable;
  tunes: TunesTable;
  tune_trials: TuneTrialsTable;
}

/** Every column of `T`, listed once; the mapped type makes the compiler reject a missing or extra name. */
function columnList<T>(spec: { [K in keyof T]-?: true }): (keyof T & string)[] {
  return Object.keys(spec) as (keyof T & string)[];
}

/** Column names per table, in table order; used to build statements and to check the DDL. */
export const TABLE_COLUMNS: { [Table in keyof DatabaseSchema]: (keyof DatabaseSchema[Table] & string)[] } = {
  machines: columnList<MachinesTable>({
    id: true,
    fingerprint: true,
    hostname: true,
    os: true,
    os_release: true,
    arch: true,
    cpu_model: true,
    cpu_cores: true,
    total_memory_bytes: true,
    node_version: true,
    gpus_json: true,
    engine: true,
    llama_cpp_version: true,
    first_seen_at: true,
  }),
  runs: columnList<RunsTable>({
    id: true,
    result_schema_version: true,
    tool_version: true,
    started_at: true,
    ended_at: true,
    status: true,
    status_reason: true,
    target_kind: true,
    model: true,
    machine_id: true,
    config_json: true,
    summary_json: true,
    resources_json: true,
    writer_pid: true,
    writer_hostname: true,
  }),
  requests: columnList<RequestsTable>({
    run_id: true,
    idx: true,
    planned_offset_ms: true,
    sent_offset_ms: true,
    dispatch_lag_ms: true,
    http_status: true,
    ttft_ms: true,
    e2e_ms: true,
    decode_ms: true,
    prompt_tokens: true,
    output_tokens: true,
    token_source: true,
    chunks: true,
    decode_tps: true,
    decode_tps_source: true,
    tpot_ms: true,
    prefill_tps: true,
    flags_json: true,
    error_code: true,
    error_message: true,
    error_status: true,
    server_source: true,
    server_prompt_tokens: true,
    server_prompt_ms: true,
    server_prefill_tps: true,
    server_output_tokens: true,
    server_decode_ms: true,
    server_decode_tps: true,
    server_cached_tokens: true,
  }),
  tests: columnList<TestsTable>({
    run_id: true,
    idx: true,
    n_prompt: true,
    n_gen: true,
    n_depth: true,
    n_threads: true,
    n_batch: true,
    n_gpu_layers: true,
    type_k: true,
    flash_attn: true,
    avg_ts: true,
    stddev_ts: true,
    row_json: true,
  }),
  run_facts: columnList<RunFactsTable>({
    run_id: true,
    workload_key: true,
    workload: true,
    requests_total: true,
    requests_failed: true,
    headline_json: true,
  }),
  run_tags: columnList<RunTagsTable>({ run_id: true, tag: true }),
  run_distributions: columnList<RunDistributionsTable>({
    run_id: true,
    metric: true,
    encoding: true,
    value_scale: true,
    histogram: true,
  }),
  resource_samples: columnList<ResourceSamplesTable>({
    run_id: true,
    idx: true,
    offset_ms: true,
    span_ms: true,
    rss_bytes: true,
    cpu_percent: true,
    gpu_memory_bytes: true,
    gpu_utilization_percent: true,
    disk_read_bytes: true,
    disk_write_bytes: true,
  }),
  run_outputs: columnList<RunOutputsTable>({ run_id: true, terminal_text: true }),
  baselines: columnList<BaselinesTable>({ run_id: true, model: true, workload_key: true, accepted_at: true }),
  sweeps: columnList<SweepsTable>({
    id: true,
    tool_version: true,
    started_at: true,
    ended_at: true,
    status: true,
    status_reason: true,
    spec_json: true,
    planned_cells: true,
    timing_json: true,
    writer_pid: true,
    writer_hostname: true,
  }),
  sweep_cells: columnList<SweepCellsTable>({
    sweep_id: true,
    cell_key: true,
    idx: true,
    knobs_json: true,
    workload_json: true,
    status: true,
    reason: true,
    failure: true,
    memory_failure: true,
    notes_json: true,
    summary_json: true,
    run_id: true,
    skipped_because: true,
    log_path: true,
    finished_at: true,
  }),
  sweep_runs: columnList<SweepRunsTable>({
    sweep_id: true,
    cell_key: true,
    replicate: true,
    run_id: true,
    feasible: true,
    errors: true,
    reason: true,
    figures_json: true,
    checks_json: true,
    notes_json: true,
  }),
  sweep_queue: columnList<SweepQueueTable>({
    sweep_id: true,
    cell_key: true,
    idx: true,
    configuration: true,
    machine_class: true,
    state: true,
    worker: true,
    lease_until_ms: true,
    claims: true,
    run_id: true,
  }),
  tunes: columnList<TunesTable>({
    id: true,
    tool_version: true,
    started_at: true,
    ended_at: true,
    status: true,
    exit_reason: true,
    spec_json: true,
    recipe_json: true,
    writer_pid: true,
    writer_hostname: true,
  }),
  tune_trials: columnList<TuneTrialsTable>({
    tune_id: true,
    idx: true,
    stage: true,
    kind: true,
    configuration_json: true,
    status: true,
    failure: true,
    reason: true,
    value: true,
    ttft_p95_ms: true,
    spread: true,
    reference: true,
    elapsed_ms: true,
    replicates_json: true,
    finished_at: true,
  }),
};
