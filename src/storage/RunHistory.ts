import type { RequestRecord } from "../results/RequestRecord.js";
import type { ResourcePoint } from "../results/ResourceTimeline.js";
import type { RunDistributions } from "../results/RunDistributions.js";
import type { RunHeadline } from "../results/RunHeadline.js";
import type { StoredRun, StoredRunStatus } from "./RunStore.js";
import type { StoredSweep, SweepListEntry } from "./SweepStore.js";
import type { StoredTune, TuneListEntry } from "./TuneStore.js";

/** Which runs {@link RunHistory.listRuns} returns. Every filter is optional; together they all apply. */
export interface RunFilter {
  /** Runs whose model name or file contains this text (case-insensitive). */
  model?: string;
  /** Runs of this target kind (`openai-chat`, `ollama`, `embedded`, ...). */
  target?: string;
  /** Runs carrying this tag. */
  tag?: string;
  /** Runs started at or after this ISO time. */
  since?: string;
  /** Runs in this state (`incomplete` and `running` are told apart as in `RunStore.getRun`). */
  status?: StoredRunStatus;
  /** Runs of this workload (`workloadIdentity(...).key`). */
  workload_key?: string;
  /** At most this many, newest first. Defaults to all. */
  limit?: number;
}

/** One line of {@link RunHistory.listRuns}. */
export interface RunListItem {
  run_id: string;
  started_at: string;
  ended_at: string | null;
  status: StoredRunStatus;
  status_reason: string | null;
  tool_version: string;
  target_kind: string | null;
  model: string | null;
  hostname: string;
  /** The workload in one line; null for runs stored before schema 2 whose configuration says nothing. */
  workload: string | null;
  workload_key: string | null;
  tags: string[];
  /** Requests stored. */
  requests: number;
  failed_requests: number;
  /** Headline figures; null while running or when the run died. */
  headline: RunHeadline | null;
}

/** A stored run without its requests (read those with {@link RunHistory.requests}). */
export interface StoredRunHeader extends Omit<StoredRun, "requests"> {
  /** Model name (HTTP targets) or GGUF file (embedded), when known. */
  model: string | null;
  target_kind: string | null;
  request_count: number;
  tags: string[];
  workload: string | null;
  workload_key: string | null;
}

/** A run accepted as a baseline. */
export interface BaselineEntry {
  run_id: string;
  model: string | null;
  workload_key: string;
  accepted_at: string;
}

/**
 * Everything that reads the run history back: `tokbench runs`, `show`, `compare`, `regress`,
 * `report` and `export` go through this interface only, so a second database (PostgreSQL, issue 15)
 * sits behind it as another implementation. Every method is asynchronous for that reason, although
 * the SQLite implementation ({@link SqliteRunHistory}) answers synchronously underneath.
 */
export interface RunHistory {
  /** Runs matching `filter`, newest first, and how many match in all (before `limit`). */
  listRuns(filter?: RunFilter): Promise<{ runs: RunListItem[]; total: number }>;
  /**
   * The id of the run `ref` names: a whole run id, a unique prefix of one, or `last` (the most
   * recently started run).
   * @throws TokbenchError `RUN_NOT_FOUND` (no match, or an empty database for `last`),
   *   `RUN_AMBIGUOUS` (a prefix of several ids; the message lists some).
   */
  resolveRun(ref: string): Promise<string>;
  /** @throws TokbenchError `RUN_NOT_FOUND`. */
  readRun(runId: string): Promise<StoredRunHeader>;
  /** The run's request records in index order, one at a time (constant memory). */
  requests(runId: string): AsyncIterable<RequestRecord>;
  /** The run's encoded distributions; null when none were stored (runs before schema 2, test-only runs). */
  distributions(runId: string): Promise<RunDistributions | null>;
  /** The resource sampler's time series; empty when nothing was sampled. */
  resourceTimeline(runId: string): Promise<ResourcePoint[]>;
  /** What the run printed on the terminal; null when not kept. */
  terminalText(runId: string): Promise<string | null>;
  /** Deletes runs with everything stored for them; returns how many existed. */
  deleteRuns(runIds: readonly string[]): Promise<number>;
  /** Ids of runs started before `before` (ISO), oldest first; accepted baselines left out when asked. */
  runsStartedBefore(before: string, options?: { keepAccepted?: boolean }): Promise<string[]>;
  /**
   * Marks `runId` as the accepted baseline of its model and workload.
   * @throws TokbenchError `RUN_NOT_FOUND`; `INVALID_ARGUMENT` for a run that did not complete.
   */
  accept(runId: string): Promise<BaselineEntry>;
  /** The most recently accepted baseline for this model and workload, or null. */
  acceptedBaseline(model: string | null, workloadKey: string): Promise<BaselineEntry | null>;
  /**
   * The runs accepted as baselines for this model and workload, newest acceptance first, each run
   * once, at most `limit`: the latest is the baseline, the earlier ones measure run-to-run noise.
   */
  acceptedBaselines(model: string | null, workloadKey: string, limit: number): Promise<BaselineEntry[]>;
  /** The most recently accepted baseline of any model and workload, or null (`regress --rerun`). */
  latestAcceptedBaseline(): Promise<BaselineEntry | null>;
  /** Stored sweeps, most recent first; `limit` undefined for all. */
  listSweeps(limit?: number): Promise<SweepListEntry[]>;
  /**
   * A stored sweep: its row, finished cells and replicates (`ref`: its id or a unique prefix of 8
   * characters or more).
   * @throws TokbenchError `SWEEP_NOT_FOUND`.
   */
  readSweep(ref: string): Promise<StoredSweep>;
  /** Stored tunes, most recent first; `limit` undefined for all. */
  listTunes(limit?: number): Promise<TuneListEntry[]>;
  /**
   * A stored tune with its trials (`ref`: its id or a unique prefix of 8 characters or more).
   * @throws TokbenchError `TUNE_NOT_FOUND`.
   */
  readTune(ref: string): Promise<StoredTune>;
}
