import { existsSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import type { Axis, AxisValue } from "../../../search/Axis.js";
import { productSize } from "../../../search/cartesianProduct.js";
import type { ProviderName } from "../../../servers/ServerProvider.js";
import { parseKnobValues } from "../../../sweep/knobAxes.js";
import { type SweepSpec, sweepSpec } from "../../../sweep/SweepSpec.js";
import { defaultBaseline } from "../../../tune/defaultBaseline.js";
import type { Configuration } from "../../../tune/Measurement.js";
import { TUNE_OBJECTIVES, type TuneObjective } from "../../../tune/objective.js";
import type { ReplayRecord } from "../../../tune/replaySource.js";
import { replaySource } from "../../../tune/replaySource.js";
import type { TuneSettings } from "../../../tune/runTune.js";
import type { SearchStrategy } from "../../../tune/searchKnobs.js";
import { checkNumberFlag } from "../../parseNumberFlag.js";
import { type SweepArgs, specFromArgs } from "../sweep/specFromArgs.js";

/** The flags of `tokbench tune` as yargs hands them over. */
export interface TuneArgs extends Omit<SweepArgs, "objective"> {
  candidates?: string[] | undefined;
  replay?: string | undefined;
  objective?: TuneObjective | undefined;
  "max-trials"?: number | undefined;
  "time-budget"?: string | undefined;
  "tie-band"?: number | undefined;
  strategy?: SearchStrategy | undefined;
  "anchor-every"?: number | undefined;
  baseline?: string[] | undefined;
  out?: string | undefined;
  /** Replace an existing --out. */
  force?: boolean;
  apply?: string | undefined;
}

/** Where a tune's measurements come from. */
export type TuneSource =
  | { kind: "live" }
  | { kind: "replay"; path: string; sha256: string }
  | { kind: "sweep"; sweep_id: string };

/** Everything a tune is, stored with it so that `--resume` runs the same tune. Plain JSON. */
export interface TuneSpec {
  source: TuneSource;
  /** Launch, workload (one value per axis) and gate settings, as a sweep has them; knob axes without the model. */
  sweep: SweepSpec;
  /** Candidate models in the order that decides (empty: the space has no model). */
  candidates: AxisValue[];
  baseline: Configuration;
  settings: TuneSettings;
}

/** Sweep flags that mean nothing to a tune. */
const SWEEP_ONLY = ["dry-run", "cells-out", "abort-on-error", "file"] as const;

/** `90`, `90s`, `20m`, `2h` as seconds. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$/i.exec(text);
  if (m === null) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--time-budget: invalid value "${text}": expected seconds, or a number with s, m or h (90s, 20m, 2h)`,
    );
  }
  const n = Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[(m[2] ?? "s").toLowerCase() as "s" | "m" | "h"] ?? 1);
  if (n <= 0)
    throw new TokbenchError("INVALID_ARGUMENT", `--time-budget must be more than 0 (got "${text}")`);
  return n;
}

/** `--baseline NAME=value` flags as values by knob name. */
function parseBaselineFlags(items: readonly string[] | undefined): Record<string, AxisValue> {
  const out: Record<string, AxisValue> = {};
  for (const item of items ?? []) {
    for (const part of item.split(",")) {
      const eq = part.indexOf("=");
      if (eq <= 0) {
        throw new TokbenchError(
          "INVALID_ARGUMENT",
          `--baseline: invalid value "${part}": expected NAME=value`,
        );
      }
      const name = part.slice(0, eq).trim();
      const [value] = parseKnobValues(`baseline ${name}`, part.slice(eq + 1).trim());
      out[name] = value as AxisValue;
    }
  }
  return out;
}

function single(flag: string, values: readonly number[], fallback: number | null): number | null {
  if (values.length > 1) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--${flag}: a tune measures one workload: give one value (a list is a sweep: tokbench sweep)`,
    );
  }
  return values[0] ?? fallback;
}

function splitFiles(items: readonly string[]): string[] {
  return items
    .flatMap((i) => i.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Candidates in the order that decides: `--candidates` as given, else the model files largest first. */
function candidateOrder(args: TuneArgs, files: readonly AxisValue[], local: boolean): AxisValue[] {
  if (args.candidates !== undefined) {
    const given = splitFiles(args.candidates).map((f) => (local ? resolve(f) : f));
    if (new Set(given).size !== given.length)
      throw new TokbenchError("INVALID_ARGUMENT", "--candidates lists a model twice");
    return given;
  }
  const size = (v: AxisValue) => {
    try {
      return statSync(String(v)).size;
    } catch {
      return -1;
    }
  };
  return [...files].sort((a, b) => size(b) - size(a));
}

/** The default trial budget: 10 % of the knob grid (at least 10), plus one probe per candidate. */
export function defaultMaxTrials(gridSize: number, candidates: number): number {
  return Math.max(10, Math.ceil(0.1 * gridSize)) + Math.max(0, candidates - 1);
}

function settingsFromArgs(
  args: TuneArgs,
  sweep: SweepSpec,
  gridSize: number,
  candidates: number,
  defaultReplicates = 3,
): TuneSettings {
  const tieBand = args["tie-band"];
  // The sweep's --objective also offers `requests`, which yargs keeps among the choices.
  if (args.objective !== undefined && !TUNE_OBJECTIVES.includes(args.objective)) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--objective ${String(args.objective)}: a tune optimises ${TUNE_OBJECTIVES.join(", ")}`,
    );
  }
  return {
    objective: args.objective ?? "throughput",
    budgets: sweep.budgets,
    replicates:
      args.replicates === undefined
        ? defaultReplicates
        : checkNumberFlag("replicates", args.replicates, { min: 1, integer: true }),
    limits: {
      max_trials:
        args["max-trials"] === undefined
          ? defaultMaxTrials(gridSize, candidates)
          : checkNumberFlag("max-trials", args["max-trials"], { min: 1, integer: true }),
      time_budget_ms: args["time-budget"] === undefined ? null : parseDuration(args["time-budget"]) * 1000,
    },
    tie_band: tieBand === undefined ? null : checkNumberFlag("tie-band", tieBand, { min: 0 }) / 100,
    strategy: args.strategy ?? "coordinate",
    anchor_every:
      args["anchor-every"] === undefined
        ? 8
        : checkNumberFlag("anchor-every", args["anchor-every"], { min: 0, integer: true }),
    seed: sweep.seed,
  };
}

/**
 * Builds a live tune's spec from its flags: the sweep's spec (the same server, knob, workload and
 * gate flags), one value per workload axis, the candidates in the order that decides, the
 * baseline and the search settings.
 */
export async function tuneSpecFromArgs(args: TuneArgs): Promise<TuneSpec> {
  for (const flag of SWEEP_ONLY) {
    const v = (args as unknown as Record<string, unknown>)[flag];
    if (v !== undefined && v !== false) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `--${flag} is a sweep flag; tokbench tune does not take it`,
      );
    }
  }
  if (args.candidates !== undefined && args["model-file"] !== undefined) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "give the models with --candidates or --model-file, not both",
    );
  }
  const sweepArgs: SweepArgs = {
    ...(args as unknown as SweepArgs),
    objective: undefined,
    "dry-run": false,
    ...(args.candidates === undefined ? {} : { "model-file": [splitFiles(args.candidates).join(",")] }),
  };
  if (args.url !== undefined) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      "--url: a tune launches the server once per configuration it tries; give --server-cmd or --server (to sweep the workload of a running server: tokbench sweep --url)",
    );
  }
  const full = await specFromArgs(sweepArgs);
  if (full.provider === "url")
    throw new TokbenchError("INVALID_ARGUMENT", "a tune needs a server it can launch");
  const w = full.workload;
  const workload = {
    concurrency: single("concurrency", w.concurrency, null),
    rate: single("rate", w.rate, null),
    prompt_tokens: single("prompt-tokens", w.prompt_tokens, 128) as number,
    max_tokens: single("max-tokens", w.max_tokens, 128) as number,
  };
  const modelAxis = full.knob_axes.find((a) => a.name === "model");
  const axes = full.knob_axes.filter((a) => a.name !== "model");
  const local = full.provider !== "vllm" && full.provider !== "sglang" && full.provider !== "mlx-lm";
  const candidates = modelAxis === undefined ? [] : candidateOrder(args, modelAxis.values, local);
  const sweep: SweepSpec = {
    ...full,
    knob_axes: axes,
    workload: {
      concurrency: workload.concurrency === null ? [] : [workload.concurrency],
      rate: workload.rate === null ? [] : [workload.rate],
      prompt_tokens: [workload.prompt_tokens],
      max_tokens: [workload.max_tokens],
    },
  };
  const gridSize = productSize(axes);
  return {
    source: { kind: "live" },
    sweep,
    candidates,
    baseline: defaultBaseline(
      axes,
      full.provider as ProviderName,
      cpus().length,
      parseBaselineFlags(args.baseline),
    ),
    settings: settingsFromArgs(args, sweep, gridSize, candidates.length),
  };
}

/**
 * Builds a replay tune's spec: the knob space is the file's (or the sweep's), narrowed to one
 * workload by the workload flags when it holds several. The server flags, when given, only name
 * the server for the recipe's command lines.
 */
export function replayTuneSpec(
  args: TuneArgs,
  records: readonly ReplayRecord[],
  source: TuneSource,
): { spec: TuneSpec; axes: Axis[] } {
  const one = (v: string[] | undefined) =>
    v === undefined ? undefined : Number(splitFiles(v).length === 1 ? splitFiles(v)[0] : Number.NaN);
  const workload: Record<string, unknown> = {};
  for (const [flag, key] of [
    ["concurrency", "concurrency"],
    ["prompt-tokens", "prompt_tokens"],
    ["max-tokens", "max_tokens"],
    ["rate", "rate"],
  ] as const) {
    const v = one(args[flag]);
    if (v !== undefined) {
      if (!Number.isFinite(v)) throw new TokbenchError("INVALID_ARGUMENT", `--${flag}: give one value`);
      workload[key] = v;
    }
  }
  const replay = replaySource(records, workload);
  const modelAxis = replay.axes.find((a) => a.name === "model");
  const axes = replay.axes.filter((a) => a.name !== "model");
  let candidates: AxisValue[] = [];
  if (modelAxis !== undefined) {
    if (args.candidates !== undefined) {
      candidates = splitFiles(args.candidates);
      for (const c of candidates) {
        if (!modelAxis.values.some((v) => String(v) === c))
          throw new TokbenchError("INVALID_ARGUMENT", `--candidates ${c}: no such model in the replay file`);
      }
    } else candidates = candidateOrder(args, modelAxis.values, false);
  }
  const provider: ProviderName =
    args["server-cmd"] !== undefined ? "template" : ((args.server as ProviderName | undefined) ?? "template");
  const rw = replay.workload ?? {};
  const num = (k: string) => (typeof rw[k] === "number" ? (rw[k] as number) : null);
  const sweep = sweepSpec({
    provider,
    knob_axes: axes,
    server_cmd: args["server-cmd"] ?? null,
    program: args["server-bin"] === undefined ? null : [args["server-bin"]],
    model: args.model ?? null,
    workload: {
      concurrency: num("concurrency") === null ? [] : [num("concurrency") as number],
      rate: num("rate") === null ? [] : [num("rate") as number],
      prompt_tokens: [num("prompt_tokens") ?? 128],
      max_tokens: [num("max_tokens") ?? 128],
    },
    budgets: {
      max_ttft_p95_ms:
        args["max-ttft-p95-ms"] === undefined
          ? null
          : checkNumberFlag("max-ttft-p95-ms", args["max-ttft-p95-ms"], { min: 0.001 }),
      max_itl_p95_ms:
        args["max-itl-p95-ms"] === undefined
          ? null
          : checkNumberFlag("max-itl-p95-ms", args["max-itl-p95-ms"], { min: 0.001 }),
    },
    requests: args.requests ?? 8,
    seed: args.seed === undefined ? 0 : checkNumberFlag("seed", args.seed, { integer: true }),
  });
  const gridSize = productSize(axes);
  return {
    spec: {
      source,
      sweep,
      candidates,
      baseline: defaultBaseline(axes, provider, cpus().length, parseBaselineFlags(args.baseline)),
      // A replay measures each configuration as often as it was recorded, so its medians are the sweep's.
      settings: settingsFromArgs(
        args,
        sweep,
        gridSize,
        candidates.length,
        Math.max(1, ...[...replay.lines.values()].map((l) => l.length)),
      ),
    },
    axes,
  };
}

/** Whether `--replay` names a file (else a sweep id). */
export function replayIsFile(value: string): boolean {
  return existsSync(value) || value.includes("/") || value.endsWith(".jsonl") || value.endsWith(".json");
}
