import type Database from "better-sqlite3";
import { runHeadline } from "../results/RunHeadline.js";
import type { RunResult } from "../results/RunResult.js";
import { workloadIdentity } from "../results/workloadIdentity.js";
import { redactText } from "../secrets/redact.js";
import type {
  ResourceSamplesTable,
  RunDistributionsTable,
  RunFactsTable,
  RunOutputsTable,
} from "./DatabaseSchema.js";
import { runTags } from "./storedRows.js";
import { insertSql, updateFromExcluded } from "./tableWrites.js";

/**
 * The rows of the history tables (schema 2) that a run's writes add beside the run, its requests
 * and tests: kept out of `RunStore` so its write path stays what it was, and written inside its
 * transactions. Plain INSERTs that PostgreSQL accepts as well.
 */

type RunFacts = Omit<RunFactsTable, "run_id">;

/** The facts of a run that has just started: its workload, nothing measured yet. */
export function runStartFacts(config: Record<string, unknown>): RunFacts {
  const workload = workloadIdentity(config);
  return {
    workload_key: workload.key,
    workload: workload.label,
    requests_total: null,
    requests_failed: null,
    headline_json: null,
  };
}

/** The facts of a finished run: workload, request counts and headline figures. */
export function runFinishFacts(result: RunResult): RunFacts {
  return {
    ...runStartFacts(result.config),
    requests_total: result.summary.requests.total,
    requests_failed: result.summary.requests.failed,
    headline_json: JSON.stringify(runHeadline(result.summary, result.tests)),
  };
}

/** Writes (or replaces) a run's facts; call inside the transaction that writes its row. */
export function writeRunFacts(db: Database.Database, runId: string, facts: RunFacts): void {
  db.prepare(
    `${insertSql("run_facts")} ON CONFLICT (run_id) DO UPDATE ${updateFromExcluded("run_facts", ["run_id"])}`,
  ).run({ run_id: runId, ...facts });
}

/** Labels a run; call inside the transaction that writes its row. Empty and repeated tags are skipped. */
export function writeRunTags(db: Database.Database, runId: string, tags: readonly string[]): void {
  const statement = db.prepare(insertSql("run_tags"));
  for (const tag of runTags(tags)) statement.run({ run_id: runId, tag });
}

/** What a finished run keeps besides its summary, as rows of their tables. */
export interface RunAttachmentRows {
  run_distributions: RunDistributionsTable[];
  resource_samples: ResourceSamplesTable[];
  run_outputs: RunOutputsTable[];
}

/**
 * The rows of what a finished run keeps besides its summary: the encoded distributions, the
 * resource time series and the text it printed (secrets redacted). The same rows for either store.
 */
export function runAttachmentRows(
  result: RunResult,
  terminalText: string | null,
  secrets: readonly string[],
): RunAttachmentRows {
  const runId = result.run_id;
  const distributions = result.distributions;
  const timeline = result.resource_timeline;
  return {
    run_distributions:
      distributions == null
        ? []
        : Object.entries(distributions.histograms).map(([metric, histogram]) => ({
            run_id: runId,
            metric,
            encoding: distributions.encoding,
            value_scale: distributions.value_scale,
            histogram,
          })),
    resource_samples:
      timeline == null ? [] : timeline.map((point, idx) => ({ run_id: runId, idx, ...point })),
    run_outputs:
      terminalText === null ? [] : [{ run_id: runId, terminal_text: redactText(terminalText, secrets) }],
  };
}

/**
 * Writes what a finished run keeps besides its summary ({@link runAttachmentRows}), replacing any
 * earlier copy. Call inside the transaction that finishes the run.
 */
export function writeRunAttachments(
  db: Database.Database,
  result: RunResult,
  terminalText: string | null,
  secrets: readonly string[],
): void {
  const rows = runAttachmentRows(result, terminalText, secrets);
  for (const table of ["run_distributions", "resource_samples", "run_outputs"] as const) {
    db.prepare(`DELETE FROM ${table} WHERE run_id = ?`).run(result.run_id);
    const statement = db.prepare(insertSql(table));
    for (const row of rows[table]) statement.run(row);
  }
}
