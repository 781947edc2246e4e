import { hostname } from "node:os";
import type { TrialRecord } from "../results/TuneResult.js";
import type { TunesTable, TuneTrialsTable } from "./DatabaseSchema.js";
import type { StoredTune, TuneListEntry, TuneStart } from "./TuneStore.js";
import { processAlive } from "./tableWrites.js";

/** The row of a tune that starts (status `running`, written by this process), in either store. */
export function tuneRow(input: TuneStart): TunesTable {
  return {
    id: input.tune_id,
    tool_version: input.tool_version,
    started_at: input.started_at,
    ended_at: null,
    status: "running",
    exit_reason: null,
    spec_json: JSON.stringify(input.spec),
    recipe_json: null,
    writer_pid: process.pid,
    writer_hostname: hostname(),
  };
}

/** The row a finished trial is stored as, in either store. */
export function trialRow(tuneId: string, trial: TrialRecord): TuneTrialsTable {
  return {
    tune_id: tuneId,
    idx: trial.index,
    stage: trial.stage,
    kind: trial.kind,
    configuration_json: JSON.stringify(trial.configuration),
    status: trial.status,
    failure: trial.failure,
    reason: trial.reason,
    value: trial.value,
    ttft_p95_ms: trial.ttft_p95_ms,
    spread: trial.spread,
    reference: trial.reference,
    elapsed_ms: trial.elapsed_ms,
    replicates_json: JSON.stringify(trial.replicates),
    finished_at: new Date().toISOString(),
  };
}

/** A stored trial row back as the tune's record. */
export function trialFromRow(t: TuneTrialsTable): TrialRecord {
  return {
    index: t.idx,
    stage: t.stage,
    kind: t.kind,
    configuration: JSON.parse(t.configuration_json),
    replicates: JSON.parse(t.replicates_json),
    status: t.status,
    failure: t.failure as TrialRecord["failure"],
    reason: t.reason,
    value: t.value,
    ttft_p95_ms: t.ttft_p95_ms,
    spread: t.spread,
    reference: t.reference,
    elapsed_ms: t.elapsed_ms,
  };
}

/**
 * A tune's status as read back: `incomplete` for a row still `running` whose writer, a process of
 * this machine, is gone (a writer on another machine cannot be checked from here: its row stays
 * `running`).
 */
export function tuneStatus(
  row: Pick<TunesTable, "status" | "writer_pid" | "writer_hostname">,
): StoredTune["status"] {
  return row.status === "running" && row.writer_hostname === hostname() && !processAlive(row.writer_pid)
    ? "incomplete"
    : row.status;
}

/** A tune read back from its row and its trial rows (in order), in either store. */
export function storedTune(row: TunesTable, trials: readonly TuneTrialsTable[]): StoredTune {
  return {
    tune_id: row.id,
    tool_version: row.tool_version,
    started_at: row.started_at,
    ended_at: row.ended_at,
    status: tuneStatus(row),
    exit_reason: row.exit_reason,
    spec: JSON.parse(row.spec_json),
    recipe: row.recipe_json === null ? null : JSON.parse(row.recipe_json),
    trials: trials.map(trialFromRow),
  };
}

/** A line of a tune list from its row and its count of trials, in either store. */
export function tuneListEntry(row: TunesTable & { trials: number }): TuneListEntry {
  return {
    tune_id: row.id,
    started_at: row.started_at,
    ended_at: row.ended_at,
    status: tuneStatus(row),
    exit_reason: row.exit_reason,
    trials: Number(row.trials),
  };
}
