import type { RunHeadline } from "../results/RunHeadline.js";
import type { RunFactsTable, RunsTable } from "./DatabaseSchema.js";
import type { RunFilter, RunListItem } from "./RunHistory.js";
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

/**
 * The WHERE clause of a run listing (empty when nothing is filtered), in either dialect: `param`
 * binds one value and returns its placeholder; `like` is the dialect's ASCII-case-insensitive LIKE
 * (SQLite's LIKE ignores ASCII case; ILIKE is PostgreSQL's spelling of that). `live`: the status
 * asked for is `running` or `incomplete`, both stored as `running`, so which one a row is gets
 * decided per row after the query ({@link keepLiveStatus}) and the query must not limit.
 */
export function runListWhere(
  filter: RunFilter,
  param: (value: unknown) => string,
  like: "LIKE" | "ILIKE",
): { clause: string; live: boolean } {
  const where: string[] = [];
  if (filter.model !== undefined)
    where.push(
      `r.model ${like} ${param(`%${filter.model.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)} ESCAPE '\\'`,
    );
  if (filter.target !== undefined) where.push(`r.target_kind = ${param(filter.target)}`);
  if (filter.tag !== undefined)
    where.push(`EXISTS (SELECT 1 FROM run_tags t WHERE t.run_id = r.id AND t.tag = ${param(filter.tag)})`);
  if (filter.since !== undefined) where.push(`r.started_at >= ${param(filter.since)}`);
  if (filter.workload_key !== undefined) where.push(`f.workload_key = ${param(filter.workload_key)}`);
  const live = filter.status === "running" || filter.status === "incomplete";
  if (filter.status !== undefined) where.push(`r.status = ${param(live ? "running" : filter.status)}`);
  return { clause: where.length === 0 ? "" : `WHERE ${where.join(" AND ")}`, live };
}

/**
 * A live listing ({@link runListWhere}'s `live`) cut to the runs whose worked-out status is the one
 * asked for, then to the filter's limit; `total` counts them before the limit.
 */
export function keepLiveStatus(
  runs: RunListItem[],
  filter: RunFilter,
): { runs: RunListItem[]; total: number } {
  const kept = runs.filter((r) => r.status === filter.status);
  return {
    runs: filter.limit === undefined ? kept : kept.slice(0, Math.max(0, Math.floor(filter.limit))),
    total: kept.length,
  };
}
