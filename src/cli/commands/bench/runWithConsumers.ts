import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import cliProgress from "cli-progress";
import type { RunStartInfo } from "../../../benchmark/RunStartInfo.js";
import type { TokbenchError } from "../../../errors/TokbenchError.js";
import type { LoadHooks } from "../../../load/runLoad.js";
import { type RunHeader, renderRunHeader } from "../../../output/runHeader.js";
import { renderRunSummary } from "../../../output/terminal/renderRunSummary.js";
import { writeRunJson, writeRunJsonFileSync } from "../../../output/writeRunJson.js";
import type { RequestLogWriter } from "../../../results/RequestLog.js";
import type { RunResult } from "../../../results/RunResult.js";
import { isPostgresUrl } from "../../../storage/databaseFilePath.js";
import { defaultDatabasePath } from "../../../storage/defaultDatabasePath.js";
import type { PostgresRunRecorder } from "../../../storage/postgres/PostgresRunRecorder.js";
import type { PostgresStore } from "../../../storage/postgres/PostgresStore.js";
import { RecordedRequestLog } from "../../../storage/RecordedRequestLog.js";
import { type RecordingOutcome, RunRecorder } from "../../../storage/RunRecorder.js";
import { RunStore } from "../../../storage/RunStore.js";
import { SpillFileRequestLog } from "../../../storage/SpillFileRequestLog.js";
import { sanitizeText } from "../../../text/sanitizeText.js";
import { TOKBENCH_VERSION } from "../../../toolVersion.js";
import { type StopSignalName, StopSignals } from "../../stopSignals.js";
import { finishTelemetry, startTelemetry, type TelemetryArgs, withTelemetry } from "./telemetryConsumer.js";

/** What the CLI attaches to a run: storage, progress, interruption. */
export interface RunConsumers {
  /** Storage's hook: call once the run has an id. */
  onRunStart(run: RunStartInfo): void;
  hooks: LoadHooks;
  /** Aborted by the first SIGINT, SIGTERM or SIGHUP. */
  signal: AbortSignal;
  /**
   * Adds a synchronous hook for a second signal, which quits at once: stop what the command
   * started (samplers, child processes). Returns a function that removes it.
   */
  onQuit(hook: (signal: StopSignalName) => void): () => void;
  /** Prints the one-line header (what is measured, the workload, where results go) on stderr. */
  announce(header: Omit<RunHeader, "storage">): void;
  /**
   * Where the run's records go: the database through the run's recorder as each finishes (read
   * back from there), or a temporary spill file with `--no-save`; never all in memory.
   */
  requestLog(runId: string): RequestLogWriter;
}

/** Output flags the consumers read. */
export interface ConsumerArgs extends TelemetryArgs {
  json: boolean;
  db?: string | undefined;
  save: boolean;
  progress: boolean;
  /** `--tag`: labels stored with the run. */
  tag?: string[] | undefined;
}

function say(line: string): void {
  try {
    process.stderr.write(`tokbench: ${line}\n`);
  } catch {
    // The terminal may be gone (SIGHUP); the database and the files are what matter.
  }
}

/**
 * Writes the whole result (as `--json` prints it, records streamed from wherever they are) beside
 * the database, or, when that folder refuses, in the temp folder. Returns the path, or null when
 * neither place would take it.
 */
function writeResultBesideDatabase(dbPath: string, result: RunResult): string | null {
  for (const folder of [dirname(dbPath), tmpdir()]) {
    const path = join(folder, unsavedName(result.run_id, "result.json"));
    try {
      writeRunJsonFileSync(result, result.requests, path);
      return path;
    } catch {
      // Try the next folder.
    }
  }
  return null;
}

function unsavedName(runId: string, what: "result.json" | "requests.ndjson"): string {
  return `tokbench-unsaved-${runId}.${what}`;
}

/**
 * Runs `run` with the CLI's consumers attached: the SQLite store (through a {@link RunRecorder}: the
 * run row first, then each request as it finishes, so a killed run keeps what it finished; a
 * database locked by another process never blocks the measurement; the records are never all in
 * memory, and are read back from there; with `--no-save` they go to a temporary spill file),
 * a progress bar on stderr,
 * stop signals (SIGINT, SIGTERM, SIGHUP; see {@link StopSignals}), and at the end the terminal
 * summary or the JSON result, printed before the run is stored so that a slow or failing database
 * never hides it. Returns the process exit code: 0 for a completed run in which something
 * succeeded, 128 + the signal's number when a signal stopped it, 1 when it was aborted, nothing
 * succeeded, or it could not be stored whole.
 */
export async function runWithConsumers(
  args: ConsumerArgs,
  plannedRequests: number | null,
  secrets: readonly string[],
  run: (consumers: RunConsumers) => Promise<RunResult>,
  renderExtra?: (result: RunResult) => string,
  options: {
    /**
     * The run has setup work that stops at once and says so in its own one-line error (the
     * default model's creation, the bandwidth probe): a first signal before the run starts (its
     * header, or onRunStart) prints nothing of its own. Defaults to false: "stopping cleanly" at once.
     */
    quietUntilStarted?: boolean;
  } = {},
): Promise<number> {
  // A PostgreSQL URL (--db or TOKBENCH_DB) selects the team's store; anything else is a SQLite file.
  const location = args.db ?? defaultDatabasePath();
  // Loaded only then: the driver is of no use to a SQLite run.
  const postgres: PostgresStore | null =
    args.save && isPostgresUrl(location)
      ? await (await import("../../../storage/postgres/PostgresStore.js")).PostgresStore.open(location)
      : null;
  // Telemetry (OTLP, Prometheus) is one more consumer of finished requests; null when not asked for.
  const telemetry = await startTelemetry(args);
  run = withTelemetry(telemetry, run);
  const store = args.save && postgres === null ? RunStore.open(args.db) : null;
  const pgRecorder: PostgresRunRecorder | null =
    postgres === null
      ? null
      : new (await import("../../../storage/postgres/PostgresRunRecorder.js")).PostgresRunRecorder(postgres);
  const dbPath = store === null ? (postgres?.shownUrl ?? "") : sanitizeText(store.path);
  const stop = StopSignals.listen({ quietUntilStarted: options.quietUntilStarted === true });
  const recorder =
    store === null
      ? null
      : new RunRecorder(store, {
          spillPath: (runId) => join(dirname(store.path), unsavedName(runId, "requests.ndjson")),
          onLocked: (phase, waitMs) =>
            say(
              phase === "run"
                ? `database ${dbPath} is locked by another process; finished requests wait in memory and are stored once it is free`
                : `database ${dbPath} is locked by another process; waiting up to ${Math.round(waitMs / 1000)} s to store the run (${stop.received === null ? "Ctrl-C" : "Ctrl-C again"} stops waiting and writes the result to a file)`,
            ),
        });
  const showProgress = args.progress && process.stderr.isTTY === true;
  const bar = showProgress
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: "{bar} {value}/{total} requests | {failed} failed | {eta_formatted} left",
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  let failed = 0;
  let finished = 0;
  let result: RunResult | null = null;
  /** Set once the result is stored, or written to a file: nothing is left to save. */
  let settled = false;
  let spill: SpillFileRequestLog | null = null;
  const tags = args.tag ?? [];

  // A second signal: save what is only in memory, then the process exits (StopSignals does).
  stop.onQuit((signal) => {
    bar?.stop();
    if (pgRecorder !== null && !settled && pgRecorder.runId !== null) {
      // No synchronous write to a network database: what the batched writer committed stays.
      say(
        `run ${pgRecorder.runId}: ${pgRecorder.committedRequests} of ${finished} finished requests are in ${dbPath}; the run stays 'running' there`,
      );
      return;
    }
    if (store === null || recorder === null || settled) return;
    if (result !== null) {
      // The run is over and its storing waits for a lock: the whole result goes to a file.
      const file = writeResultBesideDatabase(store.path, result);
      if (file !== null) recorder.removeSpillFile();
      say(
        file === null
          ? `run ${result.run_id} was not stored, and no file would take it`
          : `run ${result.run_id} was not stored; the complete result is in ${sanitizeText(file)}`,
      );
      return;
    }
    const runId = recorder.runId;
    if (runId === null) return;
    const q = recorder.quit(`quit at once by a second ${signal === "SIGINT" ? "Ctrl-C" : signal}`);
    const stored = q.stored_requests === null ? "?" : String(q.stored_requests);
    const spilled = q.spilled_requests > 0 && q.spill_path !== null;
    say(
      `run ${runId}: ${stored} of ${finished} finished requests are in ${dbPath}` +
        (spilled ? `, ${q.spilled_requests} more in ${sanitizeText(q.spill_path as string)}` : "") +
        (q.lost_requests > 0 ? `; ${q.lost_requests} could not be kept` : ""),
    );
  });

  try {
    result = await run({
      onRunStart(info) {
        stop.runStarts();
        recorder?.beginRun({ ...info, tool_version: TOKBENCH_VERSION, secrets, tags });
        pgRecorder?.beginRun({ ...info, tool_version: TOKBENCH_VERSION, secrets, tags });
        bar?.start(plannedRequests ?? 0, 0, { failed: 0 });
      },
      hooks: {
        onRequest(record) {
          // The record itself went to the request log (the recorder, or the spill file).
          finished++;
          pgRecorder?.appendRequest(record);
          if (record.error !== null) failed++;
          bar?.increment(1, { failed });
        },
      },
      signal: stop.signal,
      onQuit: (hook) => stop.onQuit(hook),
      announce(header) {
        stop.runStarts();
        // The model path and name are the user's, the architecture comes from the file: sanitised.
        // Each part is made safe before the header is wrapped, so an escape cannot be split.
        const storage = store?.path ?? postgres?.shownUrl ?? null;
        const shown = renderRunHeader({
          target: sanitizeText(header.target),
          workload: sanitizeText(header.workload),
          storage: storage === null ? null : sanitizeText(storage),
        });
        process.stderr.write(`${shown}\n`);
      },
      requestLog(runId) {
        if (store !== null && recorder !== null) return new RecordedRequestLog(store, recorder, runId);
        spill = new SpillFileRequestLog();
        return spill;
      },
    });
    bar?.stop();
    const parts: string[] = [];
    const extra = renderExtra?.(result);
    if (extra) parts.push(extra);
    if (result.requests.length > 0 || (result.tests.length === 0 && result.observation === undefined)) {
      parts.push(renderRunSummary(result));
    } else if (result.status !== "completed") {
      // Tests only: the table above has no status line of its own.
      parts.push(`run ${result.status}: ${sanitizeText(result.status_reason ?? "")}`);
    }
    // Kept with the run for `tokbench show`.
    const terminalText = parts.length === 0 ? "" : `${parts.join("\n")}\n`;
    if (args.json) {
      // In index order, as a SQLite run's records are read back, so `show --json` on either store
      // prints what this printed. A PostgreSQL run keeps its records in finish order in a spill
      // file (the database is not read back here: this prints before the run is stored), read in
      // index order from there one at a time, never all in memory.
      const requests =
        pgRecorder === null
          ? result.requests
          : result.requests instanceof SpillFileRequestLog
            ? result.requests.inIndexOrder()
            : [...result.requests].sort((a, b) => a.index - b.index);
      await writeRunJson(result, requests, process.stdout);
    } else {
      process.stdout.write(terminalText);
    }
    const code =
      result.status === "interrupted"
        ? 130
        : result.status === "completed" && !nothingSucceeded(result)
          ? 0
          : 1;
    if (pgRecorder !== null) {
      const outcome = await pgRecorder.finish(result, { terminal_text: terminalText, tags });
      settled = true;
      if (outcome.saved) {
        say(`run ${result.run_id} saved to ${dbPath}`);
        return stop.exitCode(code);
      }
      const file = writeResultBesideDatabase(join(tmpdir(), "tokbench"), result);
      say(
        `run ${result.run_id} could not be stored whole: ${outcome.error?.message ?? "unknown error"} [${outcome.error?.code ?? "DB_WRITE_FAILED"}]`,
      );
      say(
        `${outcome.stored_requests === null ? "the database could not be read back" : `the database holds ${outcome.stored_requests} of its ${result.requests.length} requests`}${file === null ? "" : `; the complete result (as --json prints it) is in ${sanitizeText(file)}`}`,
      );
      return stop.exitCode(code === 0 ? 1 : code);
    }
    if (recorder === null || store === null) return stop.exitCode(code);
    // A first signal that comes while storing waits for a lock means: stop waiting.
    const outcome = await recorder.finish(result, stop.received === null ? stop.signal : undefined, {
      terminal_text: terminalText,
      tags,
    });
    settled = true;
    if (outcome.saved) {
      say(`run ${result.run_id} saved to ${dbPath}`);
      return stop.exitCode(code);
    }
    reportUnsaved(store.path, result, outcome, recorder);
    return stop.exitCode(code === 0 ? 1 : code);
  } catch (error) {
    // The run itself failed: keep what is still only in memory before the error is reported.
    if (pgRecorder !== null) {
      const left = await pgRecorder.flush();
      if (left > 0) say(`${left} finished requests could not be stored in ${dbPath}`);
    }
    if (recorder !== null && recorder.pendingRequests > 0) {
      const q = recorder.quit(null, 5000);
      if (q.spill_path !== null) {
        say(
          `${q.spilled_requests} finished requests could not be stored; they are in ${sanitizeText(q.spill_path)}`,
        );
      }
    }
    throw error;
  } finally {
    bar?.stop();
    stop.close();
    (spill as SpillFileRequestLog | null)?.close();
    store?.close();
    await postgres?.close().catch(() => {});
    await finishTelemetry(telemetry);
  }
}

/** Says what the database holds of a run it could not store whole, and where the result went. */
function reportUnsaved(
  dbPath: string,
  result: RunResult,
  outcome: RecordingOutcome,
  recorder: RunRecorder,
): void {
  const error = outcome.error as TokbenchError | null;
  const file = writeResultBesideDatabase(dbPath, result);
  if (file !== null) recorder.removeSpillFile();
  say(
    `run ${result.run_id} could not be stored whole: ${error?.message ?? "unknown error"} [${error?.code ?? "DB_WRITE_FAILED"}]`,
  );
  const held =
    outcome.stored_requests === null
      ? "the database could not be read back"
      : `the database holds ${outcome.stored_requests} of its ${result.requests.length} requests and no summary`;
  say(
    file === null
      ? `${held}; no file would take the result (run again with --json to keep it)`
      : `${held}; the complete result (as --json prints it) is in ${sanitizeText(file)}`,
  );
}

/**
 * Whether a run tried something and none of it worked: requests were recorded and none succeeded
 * (or those that did generated no token at all: a server that stops at once, or streams its text
 * in a field tokbench does not read, measured nothing), or tests ran and all failed, with no
 * successful request beside them. Such a run exits non-zero even when it ran to the end.
 */
function nothingSucceeded(result: RunResult): boolean {
  const s = result.summary;
  const tests = result.tests.filter((row) => row.test !== "load");
  if ((s.requests.succeeded > 0 && s.total_output_tokens > 0) || tests.some((row) => row.status === "ok"))
    return false;
  return s.requests.total > 0 || tests.length > 0;
}
