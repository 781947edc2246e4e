import type { MachineInfo } from "../results/MachineInfo.js";
import type { RequestRecord, TokenSource, TrustFlag } from "../results/RequestRecord.js";
import type { MachinesTable, RequestsTable } from "./DatabaseSchema.js";

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
