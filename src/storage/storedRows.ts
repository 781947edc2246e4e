import { createHash } from "node:crypto";
import { hostname } from "node:os";
import type { MachineInfo } from "../results/MachineInfo.js";
import type { RequestRecord, TokenSource, TrustFlag } from "../results/RequestRecord.js";
import { RESULT_SCHEMA_VERSION, type RunResult } from "../results/RunResult.js";
import { redactSecrets, redactText } from "../secrets/redact.js";
import { sanitizeText } from "../text/sanitizeText.js";
import type {
  DatabaseSchema,
  MachinesTable,
  RequestsTable,
  RunsTable,
  TestsTable,
} from "./DatabaseSchema.js";
import type { BeginRunInput, FinishRunOptions } from "./RunStore.js";

/** A stored request row read back as the record it was written from (field order included). */
export function recordFromRow(row: RequestsTable): RequestRecord {
  return {
    index: row.idx,
    planned_offset_ms: row.planned_offset_ms,
    sent_offset_ms: row.sent_offset_ms,
    dispatch_lag_ms: row.dispatch_lag_ms,
    status: row.http_status,
    ttft_ms: row.ttft_ms,
    e2e_ms: row.e2e_ms,
    decode_ms: row.decode_ms,
    prompt_tokens: row.prompt_tokens,
    output_tokens: row.output_tokens,
    token_source: row.token_source as TokenSource,
    chunks: row.chunks,
    decode_tps: row.decode_tps,
    decode_tps_source: row.decode_tps_source as RequestRecord["decode_tps_source"],
    tpot_ms: row.tpot_ms,
    prefill_tps: row.prefill_tps,
    flags: JSON.parse(row.flags_json) as TrustFlag[],
    error:
      row.error_code === null
        ? null
        : { code: row.error_code, message: row.error_message ?? "", status: row.error_status },
    server_timings:
      row.server_source === null
        ? null
        : {
            source: row.server_source,
            prompt_tokens: row.server_prompt_tokens,
            prompt_ms: row.server_prompt_ms,
            prefill_tps: row.server_prefill_tps,
            output_tokens: row.server_output_tokens,
            decode_ms: row.server_decode_ms,
            decode_tps: row.server_decode_tps,
            cached_tokens: row.server_cached_tokens,
          },
  };
}

/** A stored machine row read back as the machine description. */
export function machineFromRow(row: MachinesTable): MachineInfo {
  return {
    hostname: row.hostname,
    os: row.os,
    os_release: row.os_release,
    arch: row.arch,
    cpu_model: row.cpu_model,
    cpu_cores: row.cpu_cores,
    total_memory_bytes: row.total_memory_bytes,
    node_version: row.node_version,
    gpus: JSON.parse(row.gpus_json) as MachineInfo["gpus"],
    engine: row.engine,
    llama_cpp_version: row.llama_cpp_version,
  };
}

/**
 * The row a finished request is stored as, in either store: its error message redacted of
 * `secrets` (and of any credential shape, see `redactText`) and stripped of control bytes.
 */
export function requestRow(runId: string, record: RequestRecord, secrets: readonly string[]): RequestsTable {
  const server = record.server_timings;
  return {
    run_id: runId,
    idx: record.index,
    planned_offset_ms: record.planned_offset_ms,
    sent_offset_ms: record.sent_offset_ms,
    dispatch_lag_ms: record.dispatch_lag_ms,
    http_status: record.status,
    ttft_ms: record.ttft_ms,
    e2e_ms: record.e2e_ms,
    decode_ms: record.decode_ms,
    prompt_tokens: record.prompt_tokens,
    output_tokens: record.output_tokens,
    token_source: record.token_source,
    chunks: record.chunks,
    decode_tps: record.decode_tps,
    decode_tps_source: record.decode_tps_source,
    tpot_ms: record.tpot_ms,
    prefill_tps: record.prefill_tps,
    flags_json: JSON.stringify(record.flags),
    error_code: record.error?.code ?? null,
    // Stored without raw control bytes, whoever built the record.
    error_message: record.error === null ? null : sanitizeText(redactText(record.error.message, secrets)),
    error_status: record.error?.status ?? null,
    server_source: server?.source ?? null,
    server_prompt_tokens: server?.prompt_tokens ?? null,
    server_prompt_ms: server?.prompt_ms ?? null,
    server_prefill_tps: server?.prefill_tps ?? null,
    server_output_tokens: server?.output_tokens ?? null,
    server_decode_ms: server?.decode_ms ?? null,
    server_decode_tps: server?.decode_tps ?? null,
    server_cached_tokens: server?.cached_tokens ?? null,
  };
}

/**
 * The row a machine is stored as, in either store. Its `fingerprint` is the sha256 of the canonical
 * JSON of the whole description: identical machines share one row, on any store.
 */
export function machineRow(machine: MachineInfo): Omit<MachinesTable, "id"> {
  return {
    fingerprint: machineFingerprint(machine),
    hostname: machine.hostname,
    os: machine.os,
    os_release: machine.os_release,
    arch: machine.arch,
    cpu_model: machine.cpu_model,
    cpu_cores: machine.cpu_cores,
    total_memory_bytes: machine.total_memory_bytes,
    node_version: machine.node_version,
    gpus_json: JSON.stringify(machine.gpus),
    engine: machine.engine,
    llama_cpp_version: machine.llama_cpp_version,
    first_seen_at: new Date().toISOString(),
  };
}

/** sha256 (hex) of the canonical JSON of a machine description. */
export function machineFingerprint(machine: MachineInfo): string {
  return createHash("sha256").update(canonicalJson(machine)).digest("hex");
}

/** JSON with object keys sorted, so equal values always give equal text (and fingerprints). */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) return item;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(item).sort()) sorted[key] = (item as Record<string, unknown>)[key];
    return sorted;
  });
}

/** The row a llama-bench-style test row is stored as, in either store. */
export function testRow(runId: string, index: number, test: Record<string, unknown>): TestsTable {
  const flash = test.flash_attn;
  return {
    run_id: runId,
    idx: index,
    n_prompt: numberOrNull(test.n_prompt),
    n_gen: numberOrNull(test.n_gen),
    n_depth: numberOrNull(test.n_depth),
    n_threads: numberOrNull(test.n_threads),
    n_batch: numberOrNull(test.n_batch),
    n_gpu_layers: numberOrNull(test.n_gpu_layers),
    type_k: typeof test.type_k === "string" ? test.type_k : null,
    flash_attn: typeof flash === "boolean" ? (flash ? 1 : 0) : flash === 0 || flash === 1 ? flash : null,
    avg_ts: numberOrNull(test.avg_ts),
    stddev_ts: numberOrNull(test.stddev_ts),
    row_json: JSON.stringify(test),
  };
}

function numberOrNull(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * The tables of one run's rows besides `runs` and `machines` (keyed by `run_id`; sweeps are not a
 * run's), in an order their keys allow: what `db copy` moves, in either store.
 */
export const COPIED_RUN_TABLES = [
  "run_facts",
  "requests",
  "tests",
  "run_tags",
  "run_distributions",
  "resource_samples",
  "run_outputs",
  "baselines",
] as const satisfies readonly (keyof DatabaseSchema)[];

/**
 * A sweep's or a tune's tables besides its own row (keyed by `key`), in an order their foreign keys
 * allow: what `db copy` moves of it, in either store. Its runs are ordinary runs, copied before it
 * (`sweep_runs` and `sweep_cells` point at them by id, the same in every store).
 */
export const COPIED_SEARCH_TABLES = {
  sweeps: { key: "sweep_id", tables: ["sweep_runs", "sweep_cells", "sweep_queue"] },
  tunes: { key: "tune_id", tables: ["tune_trials"] },
} as const satisfies Record<string, { key: string; tables: readonly (keyof DatabaseSchema)[] }>;

/** The searches `db copy` moves: sweeps and tunes. */
export type SearchTable = keyof typeof COPIED_SEARCH_TABLES;

/** Every row of one sweep or tune, as `db copy` reads it from one store and adds it to another. */
export interface SearchRows {
  table: SearchTable;
  /** Its row in `table` (`sweeps` or `tunes`). */
  row: DatabaseSchema[SearchTable];
  /** The rows of each of its tables ({@link COPIED_SEARCH_TABLES}). */
  children: Record<string, Record<string, unknown>[]>;
}

/** `config[key]` when it is a string, else null. */
function stringFrom(config: Record<string, unknown>, key: string): string | null {
  const value = config[key];
  return typeof value === "string" ? value : null;
}

/** A run's configuration as stored: JSON, with `secrets` (and credential-shaped values) redacted. */
export function redactedConfigJson(value: unknown, secrets: readonly string[]): string {
  // The JSON round trip first drops what JSON cannot hold (functions, undefined, class instances).
  return JSON.stringify(redactSecrets(JSON.parse(JSON.stringify(value)) as unknown, secrets));
}

/** A run's tags as stored: trimmed, empty ones dropped, each once. */
export function runTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter((t) => t !== ""))];
}

/** The row `beginRun` stores, in either store: the run `running`, with no summary yet. */
export function runStartRow(input: BeginRunInput, machineId: number, secrets: readonly string[]): RunsTable {
  return {
    id: input.run_id,
    result_schema_version: RESULT_SCHEMA_VERSION,
    tool_version: input.tool_version,
    started_at: input.started_at,
    ended_at: null,
    status: "running",
    status_reason: null,
    target_kind: input.target_kind ?? stringFrom(input.config, "target"),
    model: input.model ?? stringFrom(input.config, "model"),
    machine_id: machineId,
    config_json: redactedConfigJson(input.config, secrets),
    summary_json: null,
    resources_json: null,
    writer_pid: process.pid,
    writer_hostname: hostname(),
  };
}

/**
 * The row `finishRun` stores, in either store. `begun` is the run's row as `beginRun` left it
 * (undefined when the run is stored whole at the end): its target kind and model stand unless
 * `options` gives others.
 */
export function runFinishRow(
  result: RunResult,
  begun: Pick<RunsTable, "target_kind" | "model"> | undefined,
  options: Pick<FinishRunOptions, "target_kind" | "model">,
  machineId: number,
  secrets: readonly string[],
): RunsTable {
  return {
    id: result.run_id,
    result_schema_version: result.schema_version,
    tool_version: result.tool.version,
    started_at: result.started_at,
    ended_at: result.ended_at,
    status: result.status,
    status_reason:
      result.status_reason === null ? null : sanitizeText(redactText(result.status_reason, secrets)),
    target_kind: options.target_kind ?? begun?.target_kind ?? stringFrom(result.config, "target"),
    model: options.model ?? begun?.model ?? stringFrom(result.config, "model"),
    machine_id: machineId,
    config_json: redactedConfigJson(result.config, secrets),
    summary_json: JSON.stringify(result.summary),
    resources_json: result.resources === null ? null : JSON.stringify(result.resources),
    writer_pid: process.pid,
    writer_hostname: hostname(),
  };
}
