import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import { renderTune, trialLine } from "../../../output/terminal/renderTune.js";
import type { KnobValue } from "../../../results/TuneResult.js";
import type { AxisValue } from "../../../search/Axis.js";
import { providerFor } from "../../../servers/providerFor.js";
import type { ServerCommand } from "../../../servers/ServerProvider.js";
import type { ConfigurationLauncher } from "../../../sweep/ConfigurationLauncher.js";
import { knobAxis } from "../../../sweep/knobAxes.js";
import { prepareMemoryPrecheck } from "../../../sweep/memoryPrecheck.js";
import { processLauncher } from "../../../sweep/processLauncher.js";
import { replayLines } from "../../../sweep/replayLines.js";
import { collectMachineInfo } from "../../../system/machineInfo.js";
import { sanitizeText, terminalSafeJson } from "../../../text/sanitizeText.js";
import { TOKBENCH_VERSION } from "../../../toolVersion.js";
import { applyFiles, renderApplyFiles, shellQuote, writeFileAtomic } from "../../../tune/applyRecipe.js";
import { liveMeasure } from "../../../tune/liveMeasure.js";
import type { Configuration, MeasureFn } from "../../../tune/Measurement.js";
import { objectiveSpec } from "../../../tune/objective.js";
import {
  buildRecipe,
  fileSha256,
  knobsOf,
  type RecipeInputs,
  type RecipeModel,
  type RecipeRecommendation,
  recipeMachine,
  type TuneRecipe,
} from "../../../tune/recipe.js";
import {
  parseReplayRecord,
  type ReplayRecord,
  readHashedReplayFile,
  replaySource,
} from "../../../tune/replaySource.js";
import { DEFAULT_CONFIRM, runTune, type TuneOutcome } from "../../../tune/runTune.js";
import type { Trial } from "../../../tune/Trial.js";
import { refuseExistingOutput } from "../../refuseExistingOutput.js";
import { StopSignals } from "../../stopSignals.js";
import type { RunStorage } from "../sweep/runStorageHooks.js";
import { DEFINING_FLAGS } from "../sweep/specFromArgs.js";
import { openTuneDatabase, type TuneDatabase, tuneLogDir } from "./tuneDatabase.js";
import {
  replayIsFile,
  replayTuneSpec,
  type TuneArgs,
  type TuneSpec,
  tuneSpecFromArgs,
} from "./tuneSpecFromArgs.js";

/** The port a recommended server command listens on: each server's usual one. */
const USUAL_PORT: Record<string, number> = {
  "llama-server": 8080,
  ollama: 11434,
  vllm: 8000,
  sglang: 30000,
  "mlx-lm": 8080,
  template: 8080,
  // The embedded engine listens nowhere; its knobs are applied as llama-server's variables, so its port.
  embedded: 8080,
};

/** Flags that define a tune (the sweep's and the tune's own): refused with --resume, which takes the stored ones. */
const DEFINING = [
  ...DEFINING_FLAGS,
  "candidates",
  "replay",
  "max-trials",
  "time-budget",
  "tie-band",
  "strategy",
  "anchor-every",
  "baseline",
] as const;

/** `program --version` of a server, within 10 s; null when it says nothing usable. */
async function serverVersion(program: string[], provider: string): Promise<string | null> {
  if (!["llama-server", "ollama", "vllm"].includes(provider)) return null;
  const [bin, ...rest] = program;
  if (bin === undefined) return null;
  return await new Promise((done) => {
    execFile(bin, [...rest, "--version"], { timeout: 10_000 }, (_error, stdout, stderr) => {
      const text = `${stdout}\n${stderr}`;
      const line =
        text.split("\n").find((l) => /^version:/i.test(l.trim())) ??
        text.split("\n").find((l) => /\d+\.\d+/.test(l));
      done(line === undefined ? null : line.trim().slice(0, 200));
    });
  });
}

/** node-llama-cpp's version, for the embedded engine; null when unknown. */
function embeddedEngineVersion(): string | null {
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve("node-llama-cpp")));
    for (let i = 0; i < 6; i++) {
      const pkg = join(dir, "package.json");
      if (existsSync(pkg)) {
        const json = JSON.parse(readFileSync(pkg, "utf8")) as { name?: string; version?: string };
        if (json.name === "node-llama-cpp") return `node-llama-cpp ${json.version}`;
      }
      dir = dirname(dir);
    }
  } catch {
    // Not resolvable: the version stays unknown.
  }
  return null;
}

async function recipeModel(
  model: AxisValue,
  hashes: Map<string, RecipeModel>,
): Promise<RecipeModel | string> {
  const path = String(model);
  let bytes: number;
  try {
    bytes = statSync(path).size;
  } catch {
    return path;
  }
  const cached = hashes.get(path);
  if (cached !== undefined) return cached;
  const entry = { path, bytes, sha256: await fileSha256(path) };
  hashes.set(path, entry);
  return entry;
}

/** The server command (argv, environment) of a configuration on the usual port. */
function commandOf(
  spec: TuneSpec,
  configuration: Configuration,
  layers: number | null,
): ServerCommand | null {
  const s = spec.sweep;
  if (s.provider === "embedded" || s.provider === "url") return null;
  if (s.provider === "template" && s.server_cmd === null) return null;
  const provider = providerFor(s.provider, s.server_cmd === null ? undefined : { command: s.server_cmd });
  const { model, ...knobs } = configuration;
  return provider.command({
    program: s.program,
    model: model === undefined ? s.model : String(model),
    host: "127.0.0.1",
    port: USUAL_PORT[s.provider] ?? 8080,
    knobs,
    model_layers: layers,
  });
}

function commandText(command: ServerCommand | null): string | null {
  if (command === null) return null;
  const env = Object.entries(command.env).map(([k, v]) => `${k}=${shellQuote(v)}`);
  return [...env, ...command.argv.map(shellQuote)].join(" ");
}

const EMBEDDED_FLAGS: Record<string, string> = {
  ctx: "--ctx-size",
  parallel: "--parallel",
  threads: "--threads",
  batch: "--batch-size",
  ubatch: "--ubatch-size",
  cache_type_k: "--cache-type-k",
  cache_type_v: "--cache-type-v",
  flash_attn: "--flash-attn",
  gpu_layers: "--gpu-layers",
};

/** The `tokbench bench` command that measures a recommendation again at the tune's workload. */
function benchCommand(spec: TuneSpec, configuration: Configuration): string {
  const s = spec.sweep;
  const load = [
    "--requests",
    String(s.requests),
    ...(s.workload.concurrency[0] === undefined ? [] : ["--concurrency", String(s.workload.concurrency[0])]),
    ...(s.workload.rate[0] === undefined ? [] : ["--rate", String(s.workload.rate[0])]),
    "--prompt-tokens",
    String(s.workload.prompt_tokens[0]),
    "--max-tokens",
    String(s.workload.max_tokens[0]),
  ];
  const { model, ...knobs } = configuration;
  if (s.provider === "embedded") {
    const flags = Object.entries(knobs).flatMap(([k, v]) =>
      EMBEDDED_FLAGS[k] === undefined ? [] : [EMBEDDED_FLAGS[k] as string, String(v)],
    );
    // A replay may not name the model file: a placeholder the user fills in, not "null".
    const file = model ?? s.model ?? "<model.gguf>";
    return ["tokbench", "bench", "--model", String(file), ...flags, ...load].map(shellQuote).join(" ");
  }
  const port = USUAL_PORT[s.provider] ?? 8080;
  const name = s.model ?? (model === undefined ? "model" : basename(String(model)));
  const url = s.provider === "ollama" ? `http://127.0.0.1:${port}` : `http://127.0.0.1:${port}/v1`;
  return [
    "tokbench",
    "bench",
    "--url",
    url,
    ...(s.provider === "ollama" ? ["--api", "ollama"] : []),
    "--model",
    name,
    ...load,
  ]
    .map(shellQuote)
    .join(" ");
}

/** Replay lines of a sweep stored in the database. */
async function sweepRecords(
  db: TuneDatabase,
  sweepId: string,
): Promise<{ records: ReplayRecord[]; id: string }> {
  const stored = await db.history.readSweep(sweepId);
  const records = replayLines(stored.cells).map((line, i) =>
    parseReplayRecord(line, `sweep ${stored.sweep_id} line ${i + 1}`),
  );
  if (records.length === 0)
    throw new TokbenchError("REPLAY_INVALID", `sweep ${stored.sweep_id} has no measured cell`);
  return { records, id: stored.sweep_id };
}

/**
 * `tokbench tune`: builds the tune (or reads it back with `--resume`), runs it with the database,
 * progress and signals attached, writes the recipe (`--out`), applies it (`--apply`) and prints it.
 * Returns the exit code: 0 with a recommendation, 1 without, 128 + the signal's number interrupted (130 for Ctrl-C).
 */
export async function runTuneCommand(args: TuneArgs): Promise<number> {
  if (args.out !== undefined) refuseExistingOutput(args.out, args.force);
  if (args.resume !== undefined) {
    const given = DEFINING.filter((f) => (args as unknown as Record<string, unknown>)[f] !== undefined);
    if (given.length > 0) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `--resume continues the tune with its stored settings: drop ${given.map((f) => `--${f}`).join(", ")}`,
      );
    }
  }
  const db = await openTuneDatabase(args.db);
  try {
    let spec: TuneSpec;
    let tuneId: string;
    let stored: Trial[] = [];
    let records: ReplayRecord[] | null = null;
    if (args.resume !== undefined) {
      const tune = await db.tunes.get(args.resume);
      if (tune.status === "running")
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `tune ${tune.tune_id} is still running in another tokbench process`,
        );
      spec = tune.spec as TuneSpec;
      tuneId = tune.tune_id;
      stored = tune.trials;
      if (spec.source.kind === "replay") {
        const read = readHashedReplayFile(spec.source.path);
        records = read.records;
        if (read.sha256 !== spec.source.sha256)
          throw new TokbenchError(
            "REPLAY_INVALID",
            `the replay file ${spec.source.path} changed since the tune started`,
          );
      } else if (spec.source.kind === "sweep")
        records = (await sweepRecords(db, spec.source.sweep_id)).records;
    } else if (args.replay !== undefined) {
      if (replayIsFile(args.replay)) {
        const path = resolve(args.replay);
        const read = readHashedReplayFile(path);
        records = read.records;
        spec = replayTuneSpec(args, records, { kind: "replay", path, sha256: read.sha256 }).spec;
      } else {
        const found = await sweepRecords(db, args.replay);
        records = found.records;
        spec = replayTuneSpec(args, records, { kind: "sweep", sweep_id: found.id }).spec;
      }
      tuneId = randomUUID();
    } else {
      spec = await tuneSpecFromArgs(args);
      tuneId = randomUUID();
    }
    return await execute(args, db, spec, tuneId, stored, records);
  } finally {
    await db.close();
  }
}

async function execute(
  args: TuneArgs,
  db: TuneDatabase,
  spec: TuneSpec,
  tuneId: string,
  stored: Trial[],
  records: ReplayRecord[] | null,
): Promise<number> {
  const say = (text: string) => {
    if (args.progress) process.stderr.write(text);
  };
  const s = spec.sweep;
  const live = spec.source.kind === "live";
  const { unit, field } = objectiveSpec(spec.settings.objective);
  // The memory pre-check reads each candidate's GGUF header once.
  const precheck = await prepareMemoryPrecheck({
    ...s,
    knob_axes: [...s.knob_axes, ...(spec.candidates.length > 0 ? [knobAxis("model", spec.candidates)] : [])],
  });
  const machine = await collectMachineInfo(s.provider === "embedded" ? { engine: "node-llama-cpp" } : {});

  let launcher: ConfigurationLauncher | null = null;
  let measure: MeasureFn;
  let storage: RunStorage | null = null;
  if (!live) {
    // The workload the spec was built for (the lines of other workloads are left out).
    const workload: Record<string, unknown> = {
      concurrency: s.workload.concurrency[0],
      rate: s.workload.rate[0],
      prompt_tokens: s.workload.prompt_tokens[0],
      max_tokens: s.workload.max_tokens[0],
    };
    measure = replaySource(records as ReplayRecord[], workload).measure;
  } else {
    const logDir = resolve(args["log-dir"] ?? tuneLogDir(db, tuneId));
    mkdirSync(logDir, { recursive: true });
    if (s.provider === "embedded") {
      const { openEmbeddedLauncher } = await import("../sweep/openEmbeddedLauncher.js");
      const opened = await openEmbeddedLauncher(s);
      if (opened === "relaunch") {
        const { relaunchWithEngineEnv } = await import("../../../engine/native/engineProcessEnv.js");
        await db.close();
        return relaunchWithEngineEnv();
      }
      launcher = opened;
    } else {
      if (s.provider === "url")
        throw new TokbenchError("INVALID_ARGUMENT", "a tune needs a server it can launch");
      launcher = processLauncher({
        provider: providerFor(s.provider, s.server_cmd === null ? undefined : { command: s.server_cmd }),
        spec: s,
        log_dir: logDir,
        log_prefix: "server",
        model_layers: (model) => precheck.layers(model),
        on_launch: (argv) => say(`  launching: ${argv.join(" ")}\n`),
      });
    }
    storage = db.runStorage();
    measure = liveMeasure({
      spec: s,
      launcher,
      machine,
      checkFit: (knobs) => precheck.check(knobs as never),
      tune_id: tuneId,
      // As the sweep stores them: every replicate an ordinary run.
      hooks: storage.hooks,
    });
  }

  const tunes = db.tunes;
  if (stored.length > 0 || args.resume !== undefined) await tunes.resume(tuneId);
  else
    await tunes.begin({
      tune_id: tuneId,
      tool_version: TOKBENCH_VERSION,
      started_at: new Date().toISOString(),
      spec,
    });
  say(
    `tune ${tuneId}${stored.length > 0 ? ` resumed: ${stored.length} stored trials are not measured again` : ""}: ` +
      `${spec.candidates.length > 1 ? `${spec.candidates.length} candidates, ` : ""}${s.knob_axes.map((a) => `${a.name} (${a.values.length})`).join(" x ") || "no knob"}, ` +
      `${spec.settings.replicates} replicate(s) per trial, at most ${spec.settings.limits.max_trials} trials, objective ${spec.settings.objective}\n`,
  );

  // The stop signals every long command shares: the first stops after the trial under way (its
  // finished requests kept), a second quits at once after storing what is only in memory.
  const stop = StopSignals.listen();
  stop.onQuit((signal) => storage?.quit(signal));
  // Each trial is stored as it finishes, in order. The search calls onTrial synchronously; a
  // store that answers with a promise (PostgreSQL) commits in one round trip while the next trial
  // is measured, and a write that failed stops the tune at the next trial, as a SQLite write does
  // at once.
  let trialWrites: Promise<void> = Promise.resolve();
  let trialWriteError: unknown = null;
  let outcome: TuneOutcome;
  try {
    outcome = await runTune({
      axes: s.knob_axes,
      candidates: spec.candidates,
      baseline: spec.baseline,
      settings: spec.settings,
      measure,
      checkFit: (configuration) => precheck.check(configuration),
      stored,
      signal: stop.signal,
      onTrial: (trial, log) => {
        if (trialWriteError !== null) throw trialWriteError;
        if (trial.index >= stored.length)
          trialWrites = trialWrites.then(() =>
            tunes.addTrial(tuneId, trial).catch((error: unknown) => {
              trialWriteError ??= error;
            }),
          );
        const best = log.best();
        const score = best === null ? null : log.configurationScore(best.configuration);
        const gain =
          best === null || score === null || log.baselineTrial?.status !== "feasible" ? null : score - 1;
        say(trialLine(trial, spec.settings.limits.max_trials, best, gain, unit));
      },
      onCandidate: (model, verdict, reason) =>
        say(`candidate ${basename(String(model))}: ${verdict}${reason ? ` (${reason})` : ""}\n`),
    });
  } finally {
    stop.close();
    await launcher?.close();
    await trialWrites;
  }
  if (trialWriteError !== null) throw trialWriteError;

  // The recipe.
  const hashes = new Map<string, RecipeModel>();
  const bestConfig = outcome.best?.configuration ?? null;
  const bestModel = bestConfig?.model ?? (spec.candidates.length === 1 ? spec.candidates[0] : undefined);
  const layers = bestModel === undefined ? null : precheck.layers(String(bestModel));
  const fullBest =
    bestConfig === null ? null : { ...bestConfig, ...(bestModel === undefined ? {} : { model: bestModel }) };
  const command = fullBest === null ? null : commandOf(spec, fullBest, layers);
  const program =
    s.program ??
    (s.provider === "llama-server"
      ? ["llama-server"]
      : s.provider === "ollama"
        ? ["ollama"]
        : s.provider === "vllm"
          ? ["vllm"]
          : []);
  const server = {
    name: s.provider === "template" ? (s.server_cmd?.trim().split(/\s+/)[0] ?? "template") : s.provider,
    version:
      s.provider === "embedded"
        ? live
          ? (machine.llama_cpp_version ?? embeddedEngineVersion())
          : null
        : live
          ? await serverVersion(program, s.provider)
          : null,
  };
  const inputs: RecipeInputs = {
    provider: s.provider,
    server_cmd: s.server_cmd,
    server_bin: s.program?.join(" ") ?? null,
    candidates: await Promise.all(spec.candidates.map((c) => (live ? recipeModel(c, hashes) : String(c)))),
    knobs: Object.fromEntries(s.knob_axes.map((a) => [a.name, [...a.values] as KnobValue[]])),
    baseline: { ...spec.baseline },
    workload: {
      concurrency: s.workload.concurrency[0] ?? null,
      prompt_tokens: s.workload.prompt_tokens[0] ?? 128,
      max_tokens: s.workload.max_tokens[0] ?? 128,
      rate: s.workload.rate[0] ?? null,
      requests: s.requests,
      warmup: s.warmup,
    },
    budgets: s.budgets,
    objective: spec.settings.objective,
    search: {
      strategy: spec.settings.strategy,
      replicates: spec.settings.replicates,
      max_trials: spec.settings.limits.max_trials,
      time_budget_s:
        spec.settings.limits.time_budget_ms === null ? null : spec.settings.limits.time_budget_ms / 1000,
      tie_band: spec.settings.tie_band,
      anchor_every: spec.settings.anchor_every,
      confirm: spec.settings.confirm ?? DEFAULT_CONFIRM,
      seed: spec.settings.seed,
    },
    source:
      spec.source.kind === "live"
        ? { kind: "live" }
        : spec.source.kind === "replay"
          ? { kind: "replay", sha256: spec.source.sha256 }
          : { kind: "sweep", sweep_id: spec.source.sweep_id },
  };
  const recommendation: RecipeRecommendation = {
    model:
      bestModel === undefined || fullBest === null
        ? null
        : live
          ? await recipeModel(bestModel, hashes)
          : String(bestModel),
    knobs: knobsOf(bestConfig),
    command: commandText(command),
    env: command?.env ?? {},
    bench_command: fullBest === null ? null : benchCommand(spec, fullBest),
  };
  const recipe: TuneRecipe = buildRecipe({
    tool: `tokbench ${TOKBENCH_VERSION}`,
    tune_id: tuneId,
    machine: recipeMachine(machine, server),
    inputs,
    recommendation,
    outcome,
    objective_field: field,
    objective_unit: unit,
  });
  await tunes.finish(
    tuneId,
    outcome.exit_reason === "interrupted" ? "interrupted" : "completed",
    outcome.exit_reason,
    recipe,
  );

  if (args.out !== undefined) {
    writeFileAtomic(args.out, `${JSON.stringify(recipe, null, 2)}\n`, 0o644);
    say(`recipe written to ${sanitizeText(args.out)}\n`);
  }
  let applied: { written: string[]; backups: string[] } | null = null;
  if (args.apply !== undefined) {
    if (fullBest === null) {
      say(`--apply: nothing to apply (${outcome.exit_reason}); ${args.apply} left as it was\n`);
    } else {
      applied = applyFiles(
        renderApplyFiles(args.apply, {
          provider: s.provider,
          recipe_hash: recipe.recipe_hash,
          model: bestModel === undefined ? null : String(bestModel),
          knobs: recommendation.knobs ?? {},
          model_layers: layers,
          command,
          host: "127.0.0.1",
          port: USUAL_PORT[s.provider] ?? 8080,
        }),
      );
      say(
        `applied to ${applied.written.join(", ")}${applied.backups.length > 0 ? ` (the previous file kept as ${applied.backups.join(", ")})` : ""}\n`,
      );
    }
  }

  if (args.json) {
    const output = {
      tune_id: tuneId,
      exit_reason: outcome.exit_reason,
      exit_detail: outcome.exit_detail,
      recommendation: {
        model: recommendation.model,
        knobs: recommendation.knobs,
        command: recommendation.command,
        bench_command: recommendation.bench_command,
        value: outcome.best?.value ?? null,
        unit,
      },
      baseline: outcome.baseline === null ? null : trialJson(outcome.baseline),
      gain: outcome.gain,
      // Added fields: the baseline as the last anchor measured it, and the gain against it (the
      // one to read when drift.warning is on).
      latest_baseline: outcome.latest_baseline === null ? null : trialJson(outcome.latest_baseline),
      gain_vs_latest_baseline: outcome.gain_vs_latest_baseline,
      trials: outcome.trials.map(trialJson),
      trials_used: outcome.trials.length,
      max_trials: spec.settings.limits.max_trials,
      configurations_measured: outcome.configurations_measured,
      grid_size: outcome.grid_size,
      resumed_trials: outcome.resumed,
      drift: { max: outcome.max_drift, anchors: outcome.drift, warning: recipe.evidence.drift.warning },
      tie_band: outcome.tie_band,
      applied,
      recipe_hash: recipe.recipe_hash,
      recipe,
    };
    process.stdout.write(`${terminalSafeJson(output, 2)}\n`);
  } else {
    process.stdout.write(
      `${renderTune({
        tune_id: tuneId,
        exit_reason: outcome.exit_reason,
        exit_detail: outcome.exit_detail,
        objective_unit: unit,
        trials: outcome.trials,
        max_trials: spec.settings.limits.max_trials,
        best: outcome.best,
        baseline: outcome.baseline,
        gain: outcome.gain,
        latest_baseline: outcome.latest_baseline,
        gain_vs_latest_baseline: outcome.gain_vs_latest_baseline,
        tie_band: outcome.tie_band,
        max_drift: outcome.max_drift,
        anchors: outcome.drift.length,
        configurations_measured: outcome.configurations_measured,
        grid_size: outcome.grid_size,
        rejected: recipe.evidence.rejected_candidates,
        not_measured: recipe.evidence.not_measured_candidates,
        chosen_model: outcome.chosen_model === null ? null : String(outcome.chosen_model),
        command: recommendation.command,
        bench_command: recommendation.bench_command,
        recipe_hash: recipe.recipe_hash,
      })}\n`,
    );
  }
  if (outcome.drift_warning)
    process.stderr.write(
      `tokbench: drift ${(100 * outcome.max_drift).toFixed(1)} % of the baseline during the tune: the machine changed under it${outcome.gain_vs_latest_baseline === null ? "" : `; the recommendation's gain is ${signedPct(outcome.gain_vs_latest_baseline)} over the latest baseline (${signedPct(outcome.gain)} over the first)`}\n`,
    );
  process.stderr.write(`tune ${tuneId} saved to ${sanitizeText(db.shown)}\n`);
  if (outcome.exit_reason === "interrupted") {
    process.stderr.write(
      `resume it with: tokbench tune --resume ${tuneId}${args.db ? ` --db ${sanitizeText(db.shown)}` : ""}\n`,
    );
    return stop.exitCode(130);
  }
  return outcome.best === null ? 1 : 0;
}

function trialJson(t: Trial) {
  return {
    index: t.index,
    stage: t.stage,
    kind: t.kind,
    knobs: t.configuration,
    status: t.status,
    failure: t.failure,
    reason: t.reason,
    value: t.value,
    ttft_p95_ms: t.ttft_p95_ms,
    spread: t.spread,
    reference: t.reference,
    elapsed_ms: t.elapsed_ms,
    replicates: t.replicates,
  };
}

/** +12.3 % / -4.0 % (null: -). */
function signedPct(v: number | null): string {
  return v === null ? "-" : `${v >= 0 ? "+" : ""}${(100 * v).toFixed(1)} %`;
}
