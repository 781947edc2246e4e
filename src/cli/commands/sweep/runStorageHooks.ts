import { RunRecorder } from "../../../storage/RunRecorder.js";
import type { RunStore } from "../../../storage/RunStore.js";
import type { SweepHooks } from "../../../sweep/runSweep.js";
import { TOKBENCH_VERSION } from "../../../toolVersion.js";

/** The storage side of the runs a sweep or a tune measures. */
export interface RunStorage {
  hooks: Required<Pick<SweepHooks, "onRunStart" | "onRequest" | "onRunEnd">>;
  /** On a second stop signal, before the process quits: stores what is still only in memory. */
  quit(signal: string): void;
}

/**
 * Stores every run (replicate) of a sweep or a tune as an ordinary run: one {@link RunRecorder} per
 * run, so storage never makes a measurement wait on another process's write lock. A run that could
 * not be stored fully is said on stderr and the command goes on.
 */
export function runStorage(store: RunStore, command: "sweep" | "tune"): RunStorage {
  let recorder: RunRecorder | null = null;
  return {
    hooks: {
      onRunStart: (info) => {
        recorder = new RunRecorder(store);
        recorder.beginRun({ ...info, tool_version: TOKBENCH_VERSION });
      },
      onRequest: (_runId, record) => recorder?.appendRequest(record),
      onRunEnd: async (result) => {
        const outcome = await (recorder as RunRecorder).finish(result);
        recorder = null;
        if (!outcome.saved) {
          process.stderr.write(
            `tokbench: run ${result.run_id} not fully stored (${outcome.error?.message ?? "unknown"}); the ${command} goes on\n`,
          );
        }
      },
    },
    quit: (signal) => recorder?.quit(`stopped by ${signal}`),
  };
}
