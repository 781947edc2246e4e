import { PostgresRunRecorder } from "../../../storage/postgres/PostgresRunRecorder.js";
import type { PostgresStore } from "../../../storage/postgres/PostgresStore.js";
import type { SweepHooks } from "../../../sweep/runSweep.js";
import { TOKBENCH_VERSION } from "../../../toolVersion.js";

/**
 * Stores every run (replicate) a sweep worker measures into PostgreSQL as an ordinary run: one
 * {@link PostgresRunRecorder} per run (the run row when it starts, requests in batches as they
 * finish, the rest when it ends). A run that could not be stored fully is said on stderr and the
 * worker goes on.
 */
export function postgresRunStorage(
  store: PostgresStore,
): Required<Pick<SweepHooks, "onRunStart" | "onRequest" | "onRunEnd">> {
  let recorder: PostgresRunRecorder | null = null;
  return {
    onRunStart: (info) => {
      recorder = new PostgresRunRecorder(store);
      recorder.beginRun({ ...info, tool_version: TOKBENCH_VERSION });
    },
    onRequest: (_runId, record) => recorder?.appendRequest(record),
    onRunEnd: async (result) => {
      const outcome = await (recorder as PostgresRunRecorder).finish(result);
      recorder = null;
      if (!outcome.saved) {
        process.stderr.write(
          `tokbench: run ${result.run_id} not fully stored (${outcome.error?.message ?? "unknown"}); the worker goes on\n`,
        );
      }
    },
  };
}
