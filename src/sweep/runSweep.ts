import type { RunStartInfo } from "../benchmark/RunStartInfo.js";
import { runBenchmark } from "../benchmark/runBenchmark.js";
import { isTokbenchError, TokbenchError } from "../errors/TokbenchError.js";
import type { MachineInfo } from "../results/MachineInfo.js";
import type { RequestRecord } from "../results/RequestRecord.js";
import type { RunResult } from "../results/RunResult.js";
import type { CellResult, ReplicateResult, SweepTiming } from "../results/SweepResult.js";
import { compareLoad } from "../search/loadOrder.js";
import type { FitCheck } from "../servers/checkMemoryFit.js";
import type { LaunchFailure } from "../servers/LaunchFailure.js";
import { ServerLaunchError } from "../servers/ServerProcess.js";
import type { ConfigurationLauncher, RunningConfiguration } from "./ConfigurationLauncher.js";
import { medianFigures, statusFromReplicates } from "./combineReplicates.js";
import { evaluateGate } from "./evaluateGate.js";
import type { PlannedCell, PlannedConfiguration, SweepPlan } from "./planSweep.js";
import type { SweepSpec } from "./SweepSpec.js";

/**
 * How long a run that ended with request errors waits for its server's exit to be seen. A server
 * that aborts (llama.cpp's GGML_ASSERT after a failed allocation) drops its connections first and
 * exits a moment later: without the wait the requests' errors win the race, and the cell would
 * lose the reason the server's log gives (seen with the simulated server on a loaded machine).
 */
const DEATH_SETTLE_MS = 1500;

/** The server's failure if it died on its own, waiting up to {@link DEATH_SETTLE_MS} for its exit. */
async function settledDeath(server: RunningConfiguration): Promise<LaunchFailure | null> {
  if (server.died() !== null) return server.died();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    server.death,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DEATH_SETTLE_MS);
    }),
  ]);
  clearTimeout(timer);
  return server.died();
}

/** A sweep's timing before anything ran. */
export function noTiming(): SweepTiming {
  return {
    wall_ms: 0,
    measuring_ms: 0,
    launching_ms: 0,
    warmup_ms: 0,
    stopping_ms: 0,
    other_ms: 0,
    launches: 0,
  };
}

/** How a sweep ended. */
export interface SweepOutcome {
  status: "completed" | "interrupted" | "aborted";
  status_reason: string | null;
  /** Every finished cell (earlier sessions' included when resumed), in run order. */
  cells: CellResult[];
  timing: SweepTiming;
}

/** What the sweep tells its consumers (storage, progress); none of it is needed to run. */
export interface SweepHooks {
  /** A run (one replicate of a cell) got its id: storage writes its row. */
  onRunStart?(info: RunStartInfo): void;
  /** A request of that run finished. */
  onRequest?(runId: string, record: RequestRecord): void;
  /** That run ended (also when interrupted); the sweep waits for what this returns (storage finishing). */
  onRunEnd?(result: RunResult): void | Promise<void>;
  /** A replicate was measured and judged. */
  onReplicate?(cell: PlannedCell, replicate: ReplicateResult): void;
  /** A cell is finished. */
  onCell?(cell: CellResult): void;
  /** A configuration is about to be launched, or its launch failed. */
  onLaunch?(
    configuration: PlannedConfiguration,
    event: "start" | "ready" | "failed",
    detail: string | null,
  ): void;
  /** A cell starts measuring. */
  onCellStart?(cell: PlannedCell, replicate: number): void;
}

/** Inputs of {@link runSweep}. */
export interface RunSweepInput {
  sweep_id: string;
  spec: SweepSpec;
  plan: SweepPlan;
  launcher: ConfigurationLauncher;
  machine: MachineInfo;
  /** The memory pre-check of a configuration; null when it cannot be estimated (not a GGUF model). */
  checkFit(knobs: Readonly<Record<string, unknown>>): Promise<FitCheck | null> | FitCheck | null;
  /** Cells finished by an earlier session of this sweep (`--resume`). Defaults to none. */
  finished?: readonly CellResult[];
  /** Replicates measured by an earlier session for cells it did not finish, by cell key. Defaults to none. */
  pending_replicates?: ReadonlyMap<string, readonly ReplicateResult[]>;
  /**
   * Run only the cells with these keys (a worker's claimed cell); the rest of the plan stays the
   * context its rules read (memory failures of `finished` cells skip heavier ones). Defaults to
   * every cell.
   */
  only?: ReadonlySet<string>;
  /** Extra configuration recorded with every run. Defaults to none. */
  config?: Record<string, unknown>;
  hooks?: SweepHooks;
  /** Ctrl-C / SIGTERM: nothing new starts, the current run stops, the server is stopped. */
  signal?: AbortSignal;
}

class Stopwatch {
  private readonly start = performance.now();
  elapsed(): number {
    return performance.now() - this.start;
  }
}

function describeCell(cell: PlannedCell): string {
  const parts = Object.entries(cell.point).map(([k, v]) => `${k}=${v}`);
  return `#${cell.index} (${parts.join(" ")})`;
}

/**
 * Runs a planned sweep: one configuration at a time (one server launch each, never two at once),
 * its cells lightest first, each measured `replicates` times as ordinary runs and judged by the
 * feasibility gate. Before a launch, the memory pre-check marks configurations that cannot fit
 * (`wont_fit`). A failure that means memory (an out-of-memory launch or death, or request errors
 * at a heavier load than a cell of the same configuration that passed) skips every cell heavier in
 * every axis, in this configuration and heavier ones; `abort_on_error` stops the sweep at the first
 * failed cell instead. Gate-only failures skip nothing. A server that dies mid-cell fails that cell
 * and is launched again for the next one. Stores and prints nothing itself: consumers hang off
 * the hooks.
 */
export async function runSweep(input: RunSweepInput): Promise<SweepOutcome> {
  const { spec, plan, launcher, hooks = {}, signal } = input;
  const wall = new Stopwatch();
  const timing = noTiming();
  const done = new Map<string, CellResult>();
  for (const cell of input.finished ?? []) done.set(cell.key, cell);
  const memoryFailures: PlannedCell[] = [];
  const byKey = new Map(plan.cells.map((c) => [c.key, c]));
  for (const cell of done.values()) {
    const planned = byKey.get(cell.key);
    if (cell.memory_failure && planned !== undefined) memoryFailures.push(planned);
  }
  let status: SweepOutcome["status"] = "completed";
  let statusReason: string | null = null;
  const interrupted = () => signal?.aborted === true;
  const selected = (cell: PlannedCell): boolean => input.only === undefined || input.only.has(cell.key);
  // Stable for a sweep (a resumed one included), different between sweeps of the same server.
  const sweepSalt =
    (Number.parseInt(input.sweep_id.replace(/[^0-9a-f]/gi, "").slice(0, 6), 16) || 0) * 1_000_000;

  const finish = (cell: CellResult): void => {
    done.set(cell.key, cell);
    hooks.onCell?.(cell);
    if (cell.memory_failure) {
      const planned = byKey.get(cell.key);
      if (planned !== undefined) memoryFailures.push(planned);
    }
    if (cell.status === "failed" && spec.abort_on_error && status === "completed") {
      status = "aborted";
      statusReason = `--abort-on-error: cell ${describeCell(byKey.get(cell.key) as PlannedCell)} failed: ${cell.reason}`;
    }
  };

  const skippedBy = (cell: PlannedCell): PlannedCell | null =>
    memoryFailures.find(
      (f) => f.index !== cell.index && compareLoad(plan.axes, cell.point, f.point) === "heavier",
    ) ?? null;

  const notRun = (
    cell: PlannedCell,
    fields: Partial<CellResult> & Pick<CellResult, "status" | "reason">,
  ): CellResult => ({
    index: cell.index,
    key: cell.key,
    knobs: cell.knobs,
    workload: cell.workload,
    failure: null,
    memory_failure: false,
    notes: [],
    run_id: null,
    run_ids: [],
    summary: null,
    replicates: [],
    skipped_because: null,
    log_path: null,
    ...fields,
  });

  const skip = (cell: PlannedCell, cause: PlannedCell): void => {
    const causeCell = done.get(cause.key);
    finish(
      notRun(cell, {
        status: "skipped",
        reason: `heavier in every axis than cell ${describeCell(cause)}, which ${
          causeCell?.failure === "oom" ? "ran out of memory" : "failed with errors that mean memory"
        }`,
        skipped_because: cause.index,
      }),
    );
  };

  let running: RunningConfiguration | null = null;
  const stopServer = async (): Promise<void> => {
    if (running === null) return;
    const t = new Stopwatch();
    const r = running;
    running = null;
    await r.stop();
    timing.stopping_ms += t.elapsed();
  };

  const launch = async (configuration: PlannedConfiguration): Promise<LaunchFailure | null> => {
    hooks.onLaunch?.(configuration, "start", null);
    const t = new Stopwatch();
    timing.launches++;
    try {
      running = await launcher.launch(configuration.knobs, signal ?? new AbortController().signal);
      hooks.onLaunch?.(configuration, "ready", running.url);
      return null;
    } catch (error) {
      if (interrupted()) return null;
      if (error instanceof ServerLaunchError) {
        hooks.onLaunch?.(configuration, "failed", `${error.failure.class}: ${error.failure.message}`);
        return error.failure;
      }
      throw error;
    } finally {
      timing.launching_ms += t.elapsed();
    }
  };

  try {
    for (const configuration of plan.configurations) {
      if (interrupted() || status !== "completed") break;
      const pending = configuration.cells.filter((c) => !done.has(c.key) && selected(c));
      if (pending.length === 0) continue;
      // The estimate first: "won't fit" says more than "skipped" about a configuration that never runs.
      const fit = await input.checkFit(configuration.knobs);
      if (fit !== null && !fit.fits) {
        for (const cell of pending) finish(notRun(cell, { status: "wont_fit", reason: fit.reason }));
        continue;
      }
      for (const cell of pending) {
        const cause = skippedBy(cell);
        if (cause !== null) skip(cell, cause);
      }
      const toRun = pending.filter((c) => !done.has(c.key));
      if (toRun.length === 0) continue;

      for (const cell of toRun) {
        if (interrupted() || status !== "completed") break;
        if (done.has(cell.key)) continue;
        const cause = skippedBy(cell);
        if (cause !== null) {
          skip(cell, cause);
          continue;
        }
        if (running === null) {
          const failure = await launch(configuration);
          if (interrupted()) break;
          if (failure !== null) {
            // Every remaining cell of this configuration fails the same way; the lightest one
            // carries the memory failure, so heavier configurations are skipped.
            const rest = configuration.cells.filter((c) => !done.has(c.key) && selected(c));
            rest.forEach((c, i) => {
              finish(
                notRun(c, {
                  status: "failed",
                  reason: `server failed to start (${failure.class}): ${failure.message}`,
                  failure: failure.class,
                  memory_failure: failure.class === "oom" && i === 0,
                  log_path: failure.log_path,
                }),
              );
            });
            break;
          }
        }
        await measureCell(cell, configuration);
      }
      if (!interrupted()) await stopServer();
    }
  } finally {
    await stopServer();
    await launcher.close();
  }
  if (interrupted() && status === "completed") {
    status = "interrupted";
    statusReason = "interrupted by the user";
  }
  timing.wall_ms = wall.elapsed();
  timing.other_ms = Math.max(
    0,
    timing.wall_ms - timing.measuring_ms - timing.launching_ms - timing.warmup_ms - timing.stopping_ms,
  );
  return {
    status,
    status_reason: statusReason,
    cells: [...done.values()].sort((a, b) => a.index - b.index),
    timing,
  };

  async function measureCell(cell: PlannedCell, configuration: PlannedConfiguration): Promise<void> {
    const replicates: ReplicateResult[] = [...(input.pending_replicates?.get(cell.key) ?? [])];
    let death: LaunchFailure | null = null;
    for (let r = replicates.length; r < spec.replicates; r++) {
      // A replicate that failed makes the cell infeasible whatever the others say: stop measuring it.
      if (replicates.some((rep) => !rep.feasible)) break;
      const server = running as RunningConfiguration | null;
      if (server === null) break;
      hooks.onCellStart?.(cell, r);
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      signal?.addEventListener("abort", onAbort, { once: true });
      void server.death.then(() => stop.abort("the server died during the run"));
      // Prompts unique to this sweep, cell and replicate: with the same seed every cell would send
      // the same prompts, and a server's prompt cache would serve the later cells' prefill.
      const seed = sweepSalt + spec.seed + cell.index * 1000 + r;
      const t = new Stopwatch();
      let result: RunResult;
      let runId: string | null = null;
      try {
        result = await runBenchmark({
          target: server.target,
          workload: {
            prompt_tokens: cell.workload.prompt_tokens,
            prompt_file: null,
            max_tokens: cell.workload.max_tokens,
            force_output_length: true,
            unique_prefix: true,
            seed,
          },
          load: {
            requests: spec.requests,
            duration_s: null,
            concurrency: cell.workload.concurrency ?? Number.POSITIVE_INFINITY,
            rate: cell.workload.rate ?? null,
            arrival: "constant",
            warmup: spec.warmup,
            max_errors: null,
            seed,
          },
          machine: input.machine,
          config: {
            ...input.config,
            target: server.target.kind,
            url: server.url,
            server_argv: server.argv,
            sweep_id: input.sweep_id,
            cell: cell.index,
            // Not "cell_key": names ending in "key" are redacted as credentials.
            cell_point: cell.key,
            replicate: r,
            knobs: cell.knobs,
            workload: cell.workload,
          },
          onRunStart: (info) => {
            runId = info.run_id;
            hooks.onRunStart?.(info);
          },
          hooks: {
            onRequest: (record) => {
              if (runId !== null) hooks.onRequest?.(runId, record);
            },
          },
          signal: stop.signal,
        });
      } catch (error) {
        signal?.removeEventListener("abort", onAbort);
        // A target that cannot even prepare (the server died before the first request) is a failed cell.
        if (!isTokbenchError(error)) throw error;
        death = interrupted() ? server.died() : await settledDeath(server);
        if (death === null) throw error;
        break;
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
      const elapsed = t.elapsed();
      timing.measuring_ms += result.summary.duration_ms;
      timing.warmup_ms += Math.max(0, elapsed - result.summary.duration_ms);
      await hooks.onRunEnd?.(result);
      death =
        !interrupted() && (result.summary.requests.failed > 0 || result.status !== "completed")
          ? await settledDeath(server)
          : server.died();
      if (interrupted()) return;
      const verdict = evaluateGate(result, spec.budgets, cell.workload.max_tokens);
      const errors = result.summary.requests.failed > 0 || result.status !== "completed" || death !== null;
      const replicate: ReplicateResult = {
        replicate: r,
        run_id: result.run_id,
        feasible: verdict.feasible && death === null,
        errors,
        reason:
          death !== null
            ? `server died during the run (${death.class}): ${death.message}`
            : result.status !== "completed" && result.summary.requests.failed === 0
              ? `run ${result.status}: ${result.status_reason ?? ""}`
              : verdict.reason,
        figures: verdict.figures,
        checks: verdict.checks,
        notes: verdict.notes,
      };
      replicates.push(replicate);
      hooks.onReplicate?.(cell, replicate);
      if (death !== null) break;
    }
    if (interrupted()) return;
    if (death !== null) {
      // The next cell needs a new server.
      await stopServer();
    }
    const { status: cellStatus, reason } = statusFromReplicates(replicates);
    const memory =
      death !== null ? death.class === "oom" : cellStatus === "failed" && lighterPassed(cell, configuration);
    const notes = replicates.flatMap((r) => r.notes).slice(0, 3);
    finish({
      index: cell.index,
      key: cell.key,
      knobs: cell.knobs,
      workload: cell.workload,
      status: replicates.length === 0 && death !== null ? "failed" : cellStatus,
      reason:
        replicates.length === 0 && death !== null ? `server died (${death.class}): ${death.message}` : reason,
      failure: death?.class ?? null,
      memory_failure: memory,
      notes,
      run_id: replicates[0]?.run_id ?? null,
      run_ids: replicates.map((r) => r.run_id),
      summary: medianFigures(replicates),
      replicates,
      skipped_because: null,
      log_path: (running as RunningConfiguration | null)?.log_path ?? death?.log_path ?? null,
    });
  }

  /** Whether a cell of the same configuration that this one is heavier than ran without request errors. */
  function lighterPassed(cell: PlannedCell, configuration: PlannedConfiguration): boolean {
    return configuration.cells.some((other) => {
      const result = done.get(other.key);
      return (
        result !== undefined &&
        (result.status === "feasible" || result.status === "infeasible") &&
        compareLoad(plan.axes, cell.point, other.point) === "heavier"
      );
    });
  }
}

/** Throws when a resumed sweep's stored spec cannot be planned the same way. */
export function assertSameSweep(stored: number, planned: number): void {
  if (stored !== planned) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `the stored sweep planned ${stored} cells, this tokbench plans ${planned}: it cannot resume it`,
    );
  }
}
