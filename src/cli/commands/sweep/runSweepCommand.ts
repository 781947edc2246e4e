import { randomUUID } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import { formatNumber } from "../../../output/formatNumber.js";
import { describeCell, renderSweep } from "../../../output/terminal/renderSweep.js";
import type { CellResult, ReplicateResult, SweepResult } from "../../../results/SweepResult.js";
import { providerFor } from "../../../servers/providerFor.js";
import { isPostgresUrl } from "../../../storage/databaseFilePath.js";
import { defaultDatabasePath } from "../../../storage/defaultDatabasePath.js";
import { RunStore } from "../../../storage/RunStore.js";
import { attachedLauncher } from "../../../sweep/attachedLauncher.js";
import type { ConfigurationLauncher } from "../../../sweep/ConfigurationLauncher.js";
import { prepareMemoryPrecheck } from "../../../sweep/memoryPrecheck.js";
import { type PlannedCell, planSweep, type SweepPlan } from "../../../sweep/planSweep.js";
import { replayLines } from "../../../sweep/replayLines.js";
import { assertSameSweep, runSweep } from "../../../sweep/runSweep.js";
import type { SweepSpec } from "../../../sweep/SweepSpec.js";
import { buildSweepResult } from "../../../sweep/summarizeSweep.js";
import { collectMachineInfo } from "../../../system/machineInfo.js";
import { sanitizeText, terminalSafeJson } from "../../../text/sanitizeText.js";
import { TOKBENCH_VERSION } from "../../../toolVersion.js";
import { StopSignals } from "../../stopSignals.js";
import { serverLauncher } from "../worker/equipSweep.js";
import { runStorage } from "./runStorageHooks.js";
import { DEFINING_FLAGS, type SweepArgs, specFromArgs } from "./specFromArgs.js";

/** Writes `text` to `path` through a temporary file and a rename, so a reader never sees half a file. */
export function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (cause) {
    throw new TokbenchError("FILE_UNWRITABLE", `cannot write ${path}: ${(cause as Error).message}`, {
      cause,
      context: { path },
    });
  }
}

/** The progress line of a finished cell. */
export function cellLine(cell: CellResult, total: number): string {
  const f = cell.summary;
  const figures =
    f === null
      ? ""
      : ` ${formatNumber(f.output_tokens_per_s)} tok/s, TTFT p95 ${formatNumber(f.ttft_ms.p95)} ms, goodput ${formatNumber(f.goodput_rps)} req/s`;
  return `[${cell.index + 1}/${total}] ${describeCell(cell)}: ${cell.status}${figures}${cell.reason ? ` (${cell.reason})` : ""}\n`;
}

/** Prints the plan of `--dry-run`; nothing is launched or stored. */
export async function dryRun(args: SweepArgs, spec: SweepSpec, plan: SweepPlan): Promise<number> {
  const precheck = await prepareMemoryPrecheck(spec);
  const verdicts = await Promise.all(plan.configurations.map((c) => precheck.check(c.knobs)));
  const wontFit = plan.configurations.filter((_c, i) => verdicts[i]?.fits === false);
  const cells = plan.cells.map((cell) => {
    const fit = verdicts[cell.configuration];
    return {
      index: cell.index,
      knobs: cell.knobs,
      workload: cell.workload,
      status: fit?.fits === false ? "wont_fit" : "planned",
      reason: fit?.fits === false ? fit.reason : null,
    };
  });
  const summary = {
    dry_run: true,
    provider: spec.provider,
    configurations: plan.configurations.length,
    cells: plan.cells.length,
    launches: plan.launches,
    wont_fit_configurations: wontFit.length,
    requests: plan.requests,
    estimated_duration_s: Math.round(plan.estimate.seconds),
    estimate_assumes: plan.estimate.assumptions,
  };
  if (args.json) {
    process.stdout.write(`${terminalSafeJson({ ...summary, axes: plan.axes, planned: cells }, 2)}\n`);
    return 0;
  }
  const lines = [
    `dry run: ${plan.configurations.length} configurations x ${plan.workload_axes.reduce((n, a) => n * a.values.length, 1)} workload cells = ${plan.cells.length} cells, ` +
      `${plan.launches} launches, ${plan.requests} requests (replicates and warmups included)`,
    `estimated duration: ${Math.round(plan.estimate.seconds)} s (rough: ${plan.estimate.assumptions})`,
    ...plan.axes.map((a) => `  ${a.name}: ${a.values.join(", ")}${a.order === "none" ? " (unordered)" : ""}`),
  ];
  if (wontFit.length > 0) {
    lines.push(`${wontFit.length} configurations will not fit in memory (marked wont_fit, not launched):`);
    for (const c of wontFit.slice(0, 10)) {
      lines.push(
        `  ${Object.entries(c.knobs)
          .map(([k, v]) => `${k}=${v}`)
          .join(" ")}: ${verdicts[c.index]?.reason}`,
      );
    }
  }
  if (spec.provider === "url") {
    lines.push(`server: ${spec.url} (already running; nothing is launched)`);
  } else if (spec.provider !== "embedded") {
    const provider = providerFor(
      spec.provider,
      spec.server_cmd === null ? undefined : { command: spec.server_cmd },
    );
    const first = plan.configurations[0];
    if (first !== undefined) {
      const { model, ...knobs } = first.knobs;
      const cmd = provider.command({
        program: spec.program,
        model: model === undefined ? spec.model : String(model),
        host: "127.0.0.1",
        port: 0,
        knobs,
        model_layers: precheck.layers(model === undefined ? null : String(model)),
      });
      lines.push(`first launch: ${cmd.argv.join(" ")} (a free port replaces 0)`);
    }
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  return 0;
}

/**
 * `tokbench sweep`: plans the sweep (or reads it back with `--resume`), runs it with the database,
 * progress and signals attached, and prints the grids or the JSON result. Returns the exit code:
 * 0 when the sweep completed (whatever its cells say), 130 interrupted, 1 aborted.
 */
export async function runSweepCommand(args: SweepArgs): Promise<number> {
  let spec: SweepSpec;
  let sweepId: string;
  let finished: readonly CellResult[] = [];
  let pending: ReadonlyMap<string, readonly ReplicateResult[]> = new Map();
  let resuming = false;
  if (args.resume !== undefined) {
    const given = DEFINING_FLAGS.filter(
      (flag) => (args as unknown as Record<string, unknown>)[flag] !== undefined,
    );
    if (given.length > 0) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `--resume continues the sweep with its stored settings: drop ${given.map((f) => `--${f}`).join(", ")}`,
      );
    }
  }
  // A new sweep's settings are checked before the database is opened: bad input is refused the
  // same way whatever state the database is in.
  const fresh = args.resume === undefined ? await specFromArgs(args) : null;
  const location = args.db ?? defaultDatabasePath();
  if (isPostgresUrl(location) && !(args["dry-run"] && fresh !== null)) {
    const { runDistributedSweep } = await import("./distributedSweep.js");
    return runDistributedSweep(args, location, fresh);
  }
  const teamOnly = (["queue-only", "any-machine", "lease"] as const).filter(
    (flag) => args[flag] !== undefined,
  );
  if (teamOnly.length > 0) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `${teamOnly.map((f) => `--${f}`).join(", ")} need a PostgreSQL --db (postgres://...), where workers on several machines share the sweep`,
    );
  }
  const store = args["dry-run"] && args.resume === undefined ? null : RunStore.open(args.db);
  try {
    if (fresh === null) {
      const stored = (store as RunStore).sweeps().get(args.resume as string);
      if (stored.status === "running") {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `sweep ${stored.sweep_id} is still running in another tokbench process`,
        );
      }
      spec = stored.spec as SweepSpec;
      sweepId = stored.sweep_id;
      finished = stored.cells;
      pending = stored.pending_replicates;
      resuming = true;
    } else {
      spec = fresh;
      sweepId = randomUUID();
    }
    const plan = planSweep(spec);
    if (resuming) assertSameSweep((store as RunStore).sweeps().get(sweepId).planned_cells, plan.cells.length);
    if (args["dry-run"]) return await dryRun(args, spec, plan);
    return await execute(args, store as RunStore, spec, plan, sweepId, finished, pending, resuming);
  } finally {
    store?.close();
  }
}

async function execute(
  args: SweepArgs,
  store: RunStore,
  spec: SweepSpec,
  plan: SweepPlan,
  sweepId: string,
  finished: readonly CellResult[],
  pending: ReadonlyMap<string, readonly ReplicateResult[]>,
  resuming: boolean,
): Promise<number> {
  const progress = args.progress;
  const say = (text: string) => {
    if (progress) process.stderr.write(text);
  };
  const precheck = await prepareMemoryPrecheck(spec);
  const machine = await collectMachineInfo(spec.provider === "embedded" ? { engine: "node-llama-cpp" } : {});
  const logDir = resolve(args["log-dir"] ?? join(dirname(store.path), "sweep-logs", sweepId));
  mkdirSync(logDir, { recursive: true });

  let launcher: ConfigurationLauncher;
  if (spec.provider === "embedded") {
    const { openEmbeddedLauncher } = await import("./openEmbeddedLauncher.js");
    const opened = await openEmbeddedLauncher(spec, (path) => precheck.file(path));
    if (opened === "relaunch") {
      const { relaunchWithEngineEnv } = await import("../../../engine/native/engineProcessEnv.js");
      store.close();
      return relaunchWithEngineEnv();
    }
    launcher = opened;
  } else if (spec.provider === "url") {
    launcher = attachedLauncher(spec as SweepSpec & { url: string; model: string });
  } else {
    launcher = serverLauncher(spec, spec.provider, precheck, logDir, say);
  }

  const sweeps = store.sweeps();
  if (resuming) sweeps.resume(sweepId);
  else {
    sweeps.begin({
      sweep_id: sweepId,
      tool_version: TOKBENCH_VERSION,
      started_at: new Date().toISOString(),
      spec,
      planned_cells: plan.cells.length,
    });
  }
  say(
    `sweep ${sweepId}${resuming ? ` resumed: ${finished.length} of ${plan.cells.length} cells already done` : ""}: ` +
      `${plan.configurations.length} configurations, ${plan.cells.length} cells, ${spec.replicates} replicate(s) of ${spec.requests} requests\n`,
  );

  const stop = StopSignals.listen();
  // One recorder per run (replicate): storage never makes a measurement wait on another
  // process's lock, and a second signal stores what is still in memory before quitting.
  const storage = runStorage(store, "sweep");
  stop.onQuit((signal) => storage.quit(signal));
  const cellsOut = args["cells-out"];
  let outcome: Awaited<ReturnType<typeof runSweep>>;
  try {
    outcome = await runSweep({
      sweep_id: sweepId,
      spec,
      plan,
      launcher,
      machine,
      checkFit: (knobs) => precheck.check(knobs as never),
      finished,
      pending_replicates: pending,
      config: { provider: spec.provider, model: spec.model },
      signal: stop.signal,
      hooks: {
        ...storage.hooks,
        onReplicate: (cell: PlannedCell, replicate) => sweeps.addReplicate(sweepId, cell.key, replicate),
        onCell: (cell) => {
          sweeps.addCell(sweepId, cell);
          say(cellLine(cell, plan.cells.length));
        },
        onLaunch: (configuration, event, detail) => {
          const knobs = Object.entries(configuration.knobs)
            .map(([k, v]) => `${k}=${k === "model" ? String(v).split("/").pop() : v}`)
            .join(" ");
          if (event === "start")
            say(`configuration ${configuration.index + 1}/${plan.configurations.length}: ${knobs}\n`);
          else if (event === "failed") say(`  launch failed: ${detail}\n`);
        },
      },
    });
  } finally {
    stop.close();
  }
  sweeps.finish(sweepId, outcome.status, outcome.status_reason, outcome.timing);
  const result: SweepResult = buildSweepResult({
    sweep_id: sweepId,
    status: outcome.status,
    status_reason: outcome.status_reason,
    plan,
    cells: outcome.cells,
    objective: spec.objective,
    timing: outcome.timing,
  });
  if (cellsOut !== undefined) {
    writeAtomically(
      cellsOut,
      replayLines(outcome.cells)
        .map((line) => `${JSON.stringify(line)}\n`)
        .join(""),
    );
    say(`cells written to ${sanitizeText(cellsOut)} (replay format)\n`);
  }
  if (args.json) process.stdout.write(`${terminalSafeJson(result, 2)}\n`);
  else process.stdout.write(`${renderSweep(result)}\n`);
  process.stderr.write(
    `sweep ${sweepId} saved to ${sanitizeText(store.path)}; server logs in ${sanitizeText(logDir)}\n`,
  );
  if (outcome.status === "interrupted") {
    process.stderr.write(
      `resume it with: tokbench sweep --resume ${sweepId}${args.db ? ` --db ${args.db}` : ""}\n`,
    );
  }
  return stop.exitCode(outcome.status === "completed" ? 0 : outcome.status === "interrupted" ? 130 : 1);
}
