import type { RunHeadline } from "../results/RunHeadline.js";
import type { RunFactsTable, RunsTable } from "./DatabaseSchema.js";
import type { RunListItem } from "./RunHistory.js";
import type { StoredRunStatus } from "./RunStore.js";

/**
 * A listed run as both stores read it: only the run's short columns (never its large JSON ones),
 * its facts and its machine's host name.
 */
export type RunListRow = Pick<
  RunsTable,
  "id" | "started_at" | "ended_at" | "status" | "status_reason" | "tool_version" | "target_kind" | "model"
> &
  Omit<RunFactsTable, "run_id"> & { hostname: string };

/** What a store works out for a listed run beyond its row: live status, tags, counts and headline. */
export interface RunListParts {
  status: StoredRunStatus;
  tags: string[];
  requests: number;
  failed_requests: number;
  headline: RunHeadline | null;
}

/** One line of `RunHistory.listRuns`, the same shape from either store. */
export function runListItem(row: RunListRow, parts: RunListParts): RunListItem {
  return {
    run_id: row.id,
    started_at: row.started_at,
    ended_at: row.ended_at,
    status: parts.status,
    status_reason: row.status_reason,
    tool_version: row.tool_version,
    target_kind: row.target_kind,
    model: row.model,
    hostname: row.hostname,
    workload: row.workload,
    workload_key: row.workload_key,
    tags: parts.tags,
    requests: parts.requests,
    failed_requests: parts.failed_requests,
    headline: parts.headline,
  };
}
