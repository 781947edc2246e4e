import { hostname } from "node:os";
import type { RunsTable } from "./DatabaseSchema.js";
import type { StoredRunStatus } from "./RunStore.js";
import { processAlive } from "./tableWrites.js";

/**
 * The status of a stored run as a reader should show it: a run stored as `running` whose writer
 * was a process of this host that no longer exists died before finishing (`incomplete`). A run
 * written on another host cannot be checked and is taken at its word. The same rule for every store.
 */
export function liveRunStatus(
  row: Pick<RunsTable, "status" | "writer_pid" | "writer_hostname">,
): StoredRunStatus {
  if (row.status !== "running") return row.status;
  if (row.writer_hostname !== hostname()) return "running";
  return processAlive(row.writer_pid) ? "running" : "incomplete";
}
