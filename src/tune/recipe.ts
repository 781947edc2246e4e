import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import canonicalize from "canonicalize";
import { TokbenchError } from "../errors/TokbenchError.js";
import type { MachineInfo } from "../results/MachineInfo.js";
import type { KnobValue, Measurement } from "../results/TuneResult.js";
import type { Configuration } from "./Measurement.js";
import type { TuneExitReason, TuneOutcome } from "./runTune.js";
import type { Trial } from "./Trial.js";

/** The machine a recipe is for: what does not change from run to run (no free memory, no hostname). */
export interface RecipeMachine {
  cpu_model: string;
  cpu_cores: number;
  total_memory_bytes: number;
  gpus: { name: string; memory_total_bytes: number | null }[];
  os: string;
  os_release: string;
  arch: string;
  /** The engine or server and its version (`llama-server --version`, node-llama-cpp's llama.cpp); null when unknown. */
  server: { name: string; version: string | null };
}

/** A model file of a recipe. */
export interface RecipeModel {
  path: string;
  bytes: number;
  /** `sha256:` + hex of the file's SHA-256. */
  sha256: string;
}

/** What the recipe answers: the inputs of the question. No timestamp, id or measured figure. */
export interface RecipeInputs {
  provider: string;
  /** The command template (`--server-cmd`); null for a known provider. */
  server_cmd: string | null;
  /** The server program (`--server-bin`); null for the default. */
  server_bin: string | null;
  /** Candidate models in the order that decided (a name when it is not a file). */
  candidates: (RecipeModel | string)[];
  /** The knob space: each knob's values. */
  knobs: Record<string, KnobValue[]>;
  /** The default configuration the search started from. */
  baseline: Record<string, KnobValue>;
  workload: {
    concurrency: number | null;
    prompt_tokens: number;
    max_tokens: number;
    rate: number | null;
    requests: number;
    warmup: number;
  };
  budgets: { max_ttft_p95_ms: number | null; max_itl_p95_ms: number | null };
  objective: string;
  search: {
    strategy: string;
    replicates: number;
    max_trials: number;
    time_budget_s: number | null;
    tie_band: number | null;
    anchor_every: number;
    /** Re-measurements of close contenders at the end of the search (TuneSettings.confirm). */
    confirm: number;
    seed: number;
  };
  /** Where the measurements came from: a live server, or the replay file's hash (or a sweep id). */
  source: { kind: "live" } | { kind: "replay"; sha256: string } | { kind: "sweep"; sweep_id: string };
}

/** The recommendation: what to run. Null fields when nothing was found. */
export interface RecipeRecommendation {
  model: RecipeModel | string | null;
  knobs: Record<string, KnobValue> | null;
  /** The server's command line (shell-quoted); null for the embedded engine and when nothing was found. */
  command: string | null;
  /** Environment of the command (Ollama's server settings); empty for most servers. */
  env: Record<string, string>;
  /** The `tokbench bench` command that measures the recommendation again. */
  bench_command: string | null;
}

/** One side of the evidence: a trial's figures. */
export interface RecipeEvidencePoint {
  knobs: Record<string, KnobValue>;
  value: number | null;
  /** Relative sample standard deviation of the replicates. */
  spread: number | null;
  ttft_p95_ms: number | null;
  replicates: (number | null)[];
  trial: number;
}

/** A tune's recipe (`--out`, and `recipe` in `--json`). */
export interface TuneRecipe {
  recipe_version: 1;
  tool: string;
  tune_id: string;
  machine: RecipeMachine;
  inputs: RecipeInputs;
  recommendation: RecipeRecommendation;
  evidence: {
    objective_unit: string;
    baseline: RecipeEvidencePoint | null;
    best: RecipeEvidencePoint | null;
    /** The best's gain over the baseline measured last before it (0.2 = 20 % better); null without both. */
    gain: number | null;
    /** The baseline as the last drift anchor measured it; null without an anchor. */
    latest_baseline: RecipeEvidencePoint | null;
    /**
     * The best's gain over {@link latest_baseline}: the figure to read when the drift warning is
     * on (the machine changed under the tune, so `gain` mixes the knobs' effect with the drift);
     * null without an anchor.
     */
    gain_vs_latest_baseline: number | null;
    trials_used: number;
    configurations_measured: number;
    grid_size: number;
    tie_band: number;
    drift: { max: number; anchors: number; warning: boolean };
    rejected_candidates: { model: string; verdict: string; reason: string }[];
    not_measured_candidates: string[];
  };
  exit_reason: TuneExitReason;
  exit_detail: string | null;
  /** `sha256:` + hex SHA-256 of the RFC 8785 canonical JSON of {machine, inputs, recommendation}. */
  recipe_hash: string;
}

/** The stable part of a machine's description. */
export function recipeMachine(machine: MachineInfo, server: RecipeMachine["server"]): RecipeMachine {
  return {
    cpu_model: machine.cpu_model,
    cpu_cores: machine.cpu_cores,
    total_memory_bytes: machine.total_memory_bytes,
    gpus: machine.gpus.map((g) => ({ name: g.name, memory_total_bytes: g.memory_total_bytes })),
    os: machine.os,
    os_release: machine.os_release,
    arch: machine.arch,
    server,
  };
}

/** RFC 8785 (JSON Canonicalization Scheme) text of a value. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TokbenchError("INTERNAL", "a recipe part has no JSON form");
  return text;
}

/** The recipe hash: `sha256:` + hex SHA-256 of the canonical JSON of {machine, inputs, recommendation}. */
export function recipeHash(parts: Pick<TuneRecipe, "machine" | "inputs" | "recommendation">): string {
  const text = canonicalJson({
    machine: parts.machine,
    inputs: parts.inputs,
    recommendation: parts.recommendation,
  });
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

/** `sha256:` + hex SHA-256 of a file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw new TokbenchError("FILE_UNREADABLE", `cannot read ${path}: ${(cause as Error).message}`, {
      cause,
      context: { path },
    });
  }
  return `sha256:${hash.digest("hex")}`;
}

function evidencePoint(trial: Trial | null, field: keyof Measurement): RecipeEvidencePoint | null {
  if (trial === null) return null;
  const { model: _model, ...knobs } = trial.configuration;
  return {
    knobs,
    value: trial.value,
    spread: trial.spread,
    ttft_p95_ms: trial.ttft_p95_ms,
    replicates: trial.replicates.map((m) => {
      const v = m[field];
      return typeof v === "number" ? v : null;
    }),
    trial: trial.index,
  };
}

/** Assembles a recipe; the hash is computed over its machine, inputs and recommendation. */
export function buildRecipe(input: {
  tool: string;
  tune_id: string;
  machine: RecipeMachine;
  inputs: RecipeInputs;
  recommendation: RecipeRecommendation;
  outcome: TuneOutcome;
  objective_field: keyof Measurement;
  objective_unit: string;
}): TuneRecipe {
  const { outcome } = input;
  const label = (m: KnobValue) => String(m);
  const base = {
    recipe_version: 1 as const,
    tool: input.tool,
    tune_id: input.tune_id,
    machine: input.machine,
    inputs: input.inputs,
    recommendation: input.recommendation,
    evidence: {
      objective_unit: input.objective_unit,
      baseline: evidencePoint(outcome.baseline, input.objective_field),
      best: evidencePoint(outcome.best, input.objective_field),
      gain: outcome.gain,
      latest_baseline: evidencePoint(outcome.latest_baseline, input.objective_field),
      gain_vs_latest_baseline: outcome.gain_vs_latest_baseline,
      trials_used: outcome.trials.length,
      configurations_measured: outcome.configurations_measured,
      grid_size: outcome.grid_size,
      tie_band: outcome.tie_band,
      drift: {
        max: outcome.max_drift,
        anchors: outcome.drift.length,
        warning: outcome.drift_warning,
      },
      rejected_candidates: outcome.rejected.map((r) => ({
        model: label(r.model),
        verdict: r.verdict,
        reason: r.reason,
      })),
      not_measured_candidates: outcome.not_measured.map(label),
    },
    exit_reason: outcome.exit_reason,
    exit_detail: outcome.exit_detail,
  };
  return { ...base, recipe_hash: recipeHash(base) };
}

/** The knobs of a configuration without its model. */
export function knobsOf(configuration: Configuration | null): Record<string, KnobValue> | null {
  if (configuration === null) return null;
  const { model: _model, ...knobs } = configuration;
  return knobs;
}
