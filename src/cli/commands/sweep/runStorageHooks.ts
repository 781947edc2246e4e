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

/** What {@link recordingHooks} needs of a run's recorder (SQLite's `RunRecorder`, `PostgresRunRecorder`). */
export interface RunRecorderLike {
  beginRun(input: Parameters<RunRecorder["beginRun"]>[0]): void;
  appendRequest(record: Parameters<RunRecorder["appendRequest"]>[0]): void;
  finish(
    result: Parameters<RunRecorder["finish"]>[0],
  ): Promise<{ saved: boolean; error: { message: string } | null }>;
}

/**
 * Stores every run (replicate) a sweep, tune or worker measures as an ordinary run: a new recorder
 * from `newRecorder` per run. A run that could not be stored fully is said on stderr and the
 * command goes on.
 */
export function recordingHooks<R extends RunRecorderLike>(
  newRecorder: () => R,
  command: string,
  onRecorder: (recorder: R | null) => void = () => {},
): RunStorage["hooks"] {
  let recorder: R | null = null;
  return {
    onRunStart: (info) => {
      recorder = newRecorder();
      onRecorder(recorder);
      recorder.beginRun({ ...info, tool_version: TOKBENCH_VERSION });
    },
    onRequest: (_runId, record) => recorder?.appendRequest(record),
    onRunEnd: async (result) => {
      const outcome = await (recorder as R).finish(result);
      recorder = null;
      onRecorder(null);
      if (!outcome.saved) {
        process.stderr.write(
          `tokbench: run ${result.run_id} not fully stored (${outcome.error?.message ?? "unknown"}); the ${command} goes on\n`,
        );
      }
    },
  };
}

/**
 * Stores every run (replicate) of a sweep or a tune as an ordinary run: one {@link RunRecorder} per
 * run, so storage never makes a measurement wait on another process's write lock.
 */
export function runStorage(store: RunStore, command: "sweep" | "tune"): RunStorage {
  let current: RunRecorder | null = null;
  return {
    hooks: recordingHooks(
      () => new RunRecorder(store),
      command,
      (recorder) => {
        current = recorder;
      },
    ),
    quit: (signal) => current?.quit(`stopped by ${signal}`),
  };
}
