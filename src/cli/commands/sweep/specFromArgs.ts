import { resolve } from "node:path";
import { KV_CACHE_TYPES } from "../../../engine/knobValues.js";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import type { Axis, AxisOrder, AxisValue } from "../../../search/Axis.js";
import { type ListInput, parseIntList, parseNumberList } from "../../../search/parseListValues.js";
import { providerFor } from "../../../servers/providerFor.js";
import { embeddedProvider } from "../../../servers/providers/embedded.js";
import { templateProvider } from "../../../servers/providers/template.js";
import { flashAttnWord, type ProviderName, STANDARD_KNOBS } from "../../../servers/ServerProvider.js";
import { knobAxis, parseKnobFlag, parseKnobValues } from "../../../sweep/knobAxes.js";
import { readSweepFile, type SweepFile } from "../../../sweep/readSweepFile.js";
import type { SweepObjective, SweepSpec } from "../../../sweep/SweepSpec.js";
import { checkNumberFlag } from "../../parseNumberFlag.js";

/** The flags of `tokbench sweep` as yargs hands them over. */
export interface SweepArgs {
  url?: string | undefined;
  "server-cmd"?: string | undefined;
  server?: Exclude<ProviderName, "template"> | undefined;
  "server-bin"?: string | undefined;
  model?: string | undefined;
  "model-file"?: string[] | undefined;
  "ready-path"?: string | undefined;
  api?: "chat" | "completions" | "ollama" | undefined;
  knob?: string[] | undefined;
  "ctx-size"?: string[] | undefined;
  parallel?: string[] | undefined;
  threads?: string[] | undefined;
  "batch-size"?: string[] | undefined;
  "ubatch-size"?: string[] | undefined;
  "cache-type-k"?: string[] | undefined;
  "cache-type-v"?: string[] | undefined;
  "flash-attn"?: string[] | undefined;
  "gpu-layers"?: string[] | undefined;
  concurrency?: string[] | undefined;
  rate?: string[] | undefined;
  "prompt-tokens"?: string[] | undefined;
  "max-tokens"?: string[] | undefined;
  requests?: number | undefined;
  warmup?: number | undefined;
  replicates?: number | undefined;
  seed?: number | undefined;
  "max-ttft-p95-ms"?: number | undefined;
  "max-itl-p95-ms"?: number | undefined;
  objective?: SweepObjective | undefined;
  "abort-on-error"?: boolean | undefined;
  "memory-budget"?: number | undefined;
  "server-memory-limit"?: number | undefined;
  "ready-timeout"?: number | undefined;
  "stop-grace"?: number | undefined;
  timeout?: number | undefined;
  file?: string | undefined;
  "dry-run": boolean;
  resume?: string | undefined;
  "cells-out"?: string | undefined;
  "log-dir"?: string | undefined;
  json: boolean;
  db?: string | undefined;
  progress: boolean;
  /** PostgreSQL --db only: queue the sweep for workers and return at once. */
  "queue-only"?: boolean | undefined;
  /** PostgreSQL --db only: workers of any machine class may claim its cells. */
  "any-machine"?: boolean | undefined;
  /** PostgreSQL --db only: seconds a claimed cell stays held without renewal. */
  lease?: number | undefined;
}

/** The native knob flags and the knob each fills. */
const NATIVE_FLAGS = {
  "ctx-size": "ctx",
  parallel: "parallel",
  threads: "threads",
  "batch-size": "batch",
  "ubatch-size": "ubatch",
  "cache-type-k": "cache_type_k",
  "cache-type-v": "cache_type_v",
  "flash-attn": "flash_attn",
  "gpu-layers": "gpu_layers",
} as const;

/** Flags that define the sweep (not how it is shown): refused with --resume, which takes the stored ones. */
export const DEFINING_FLAGS = [
  "url",
  "server-cmd",
  "server",
  "server-bin",
  "model",
  "model-file",
  "ready-path",
  "api",
  "knob",
  ...Object.keys(NATIVE_FLAGS),
  "concurrency",
  "rate",
  "prompt-tokens",
  "max-tokens",
  "requests",
  "warmup",
  "replicates",
  "seed",
  "max-ttft-p95-ms",
  "max-itl-p95-ms",
  "objective",
  "abort-on-error",
  "memory-budget",
  "server-memory-limit",
  "ready-timeout",
  "stop-grace",
  "timeout",
  "file",
] as const;

function invalid(message: string): TokbenchError {
  return new TokbenchError("INVALID_ARGUMENT", message);
}

/** Checks a standard knob's values (a KV type llama.cpp knows, a flash-attention word, a GPU-layer count or %). */
function checkStandardValues(name: string, values: readonly AxisValue[]): AxisValue[] {
  const flag = STANDARD_KNOBS[name]?.flag ?? name;
  return values.map((value) => {
    if (name === "cache_type_k" || name === "cache_type_v") {
      const v = String(value).toLowerCase();
      if (!(KV_CACHE_TYPES as readonly string[]).includes(v)) {
        throw invalid(`--${flag}: invalid value "${value}": expected one of ${KV_CACHE_TYPES.join(", ")}`);
      }
      return v;
    }
    if (name === "flash_attn") return flashAttnWord(value);
    if (name === "gpu_layers") {
      const text = String(value);
      if (/^\d+%$/.test(text) && Number(text.slice(0, -1)) <= 100) return text;
      if (/^\d+$/.test(text)) return Number(text);
      throw invalid(`--${flag}: invalid value "${value}": expected a layer count or a percentage up to 100%`);
    }
    if (["ctx", "parallel", "threads", "batch", "ubatch"].includes(name)) {
      if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
        throw invalid(`--${flag}: invalid value "${value}": must be an integer >= 1`);
      }
    }
    return value;
  });
}

/** The spec of a sweep of a server already running at `--url`: the workload varies, nothing is launched. */
function attachedSpec(args: SweepArgs, file: SweepFile): SweepSpec {
  const launching = [
    "server-cmd",
    "server",
    "server-bin",
    "model-file",
    "ready-path",
    "knob",
    ...Object.keys(NATIVE_FLAGS),
    "server-memory-limit",
    "memory-budget",
    "ready-timeout",
    "stop-grace",
  ].filter((flag) => (args as unknown as Record<string, unknown>)[flag] !== undefined);
  if (
    launching.length > 0 ||
    file.knobs !== undefined ||
    file.server !== undefined ||
    file.server_cmd !== undefined
  ) {
    const what =
      launching.length > 0 ? launching.map((f) => `--${f}`).join(", ") : "the sweep file's server and knobs";
    throw invalid(
      `--url sweeps the workload of a server that is already running: ${what} cannot apply to it`,
    );
  }
  const model = args.model ?? file.model;
  if (model === undefined) throw invalid("--url needs --model: the model name sent to the server");
  return {
    ...commonFields(args, file),
    provider: "url",
    url: args.url as string,
    server_cmd: null,
    program: null,
    ready_path: null,
    api: args.api ?? file.api ?? "chat",
    model,
    knob_axes: [],
  };
}

/** The settings every sweep has, whatever its server: workload, budgets, limits. */
function commonFields(
  args: SweepArgs,
  file: SweepFile,
): Omit<
  SweepSpec,
  "provider" | "url" | "server_cmd" | "program" | "ready_path" | "api" | "model" | "knob_axes"
> {
  const w = file.workload ?? {};
  const ints = (flag: string, cli: string[] | undefined, fromFileValue: unknown, fallback: number[]) => {
    const input = cli ?? listFromFile(fromFileValue);
    return input === undefined ? fallback : parseIntList(flag, input, 1);
  };
  const rateInput = args.rate ?? listFromFile(w.rate);
  const num = (
    flag: string,
    value: number | undefined,
    fallback: number,
    opts: { min?: number; integer?: boolean },
  ) => (value === undefined ? fallback : checkNumberFlag(flag, value, opts));
  const mib = (flag: string, cli: number | undefined, fileValue: number | undefined): number | null => {
    const value = cli ?? fileValue;
    return value === undefined ? null : Math.round(checkNumberFlag(flag, value, { min: 1 }) * 2 ** 20);
  };
  const ttft = args["max-ttft-p95-ms"] ?? file.budgets?.max_ttft_p95_ms;
  const itl = args["max-itl-p95-ms"] ?? file.budgets?.max_itl_p95_ms;
  return {
    workload: {
      concurrency: ints("concurrency", args.concurrency, w.concurrency, []),
      rate: rateInput === undefined ? [] : parseNumberList("rate", rateInput, 0.001),
      prompt_tokens: ints("prompt-tokens", args["prompt-tokens"], w.prompt_tokens, [128]),
      max_tokens: ints("max-tokens", args["max-tokens"], w.max_tokens, [128]),
    },
    requests: num("requests", args.requests ?? file.requests, 8, { min: 1, integer: true }),
    warmup: num("warmup", args.warmup ?? file.warmup, 1, { min: 0, integer: true }),
    replicates: num("replicates", args.replicates ?? file.replicates, 1, { min: 1, integer: true }),
    budgets: {
      max_ttft_p95_ms: ttft === undefined ? null : checkNumberFlag("max-ttft-p95-ms", ttft, { min: 0.001 }),
      max_itl_p95_ms: itl === undefined ? null : checkNumberFlag("max-itl-p95-ms", itl, { min: 0.001 }),
    },
    objective: args.objective ?? file.objective ?? "throughput",
    abort_on_error: args["abort-on-error"] ?? file.abort_on_error ?? false,
    ready_timeout_s: num("ready-timeout", args["ready-timeout"] ?? file.ready_timeout_s, 300, { min: 0.001 }),
    stop_grace_s: num("stop-grace", args["stop-grace"] ?? file.stop_grace_s, 10, { min: 0 }),
    request_timeout_s: num("timeout", args.timeout ?? file.request_timeout_s, 600, { min: 0 }),
    memory_budget_bytes: mib("memory-budget", args["memory-budget"], file.memory_budget_mib),
    server_memory_limit_bytes: mib(
      "server-memory-limit",
      args["server-memory-limit"],
      file.server_memory_limit_mib,
    ),
    seed: num("seed", args.seed ?? file.seed, 0, { integer: true }),
  };
}

function listFromFile(input: unknown): ListInput {
  if (input === undefined) return undefined;
  if (Array.isArray(input)) return input.map(String);
  return String(input);
}

/**
 * Builds the sweep's spec from its flags and, when given, its file (a flag wins over the file's
 * key). Checks everything a launch would trip on later: the provider, every knob against the
 * provider's flags or the template's placeholders, the model, the numbers.
 */
export async function specFromArgs(args: SweepArgs): Promise<SweepSpec> {
  const file: SweepFile = args.file === undefined ? {} : await readSweepFile(args.file);
  if (args.url !== undefined) return attachedSpec(args, file);
  const serverCmd = args["server-cmd"] ?? (args.server === undefined ? file.server_cmd : undefined);
  const serverName = args.server ?? (args["server-cmd"] === undefined ? file.server : undefined);
  if (serverCmd !== undefined && serverName !== undefined && serverName !== "template") {
    throw invalid("give either --server-cmd (a command template) or --server (a known server), not both");
  }
  if (serverCmd === undefined && serverName === undefined) {
    throw invalid(
      'name the server: --server-cmd "llama-server -m m.gguf --port {port} -c {ctx}" or --server llama-server|ollama|vllm|sglang|mlx-lm|embedded',
    );
  }
  const provider: ProviderName = serverCmd !== undefined ? "template" : (serverName as ProviderName);

  // Knobs: the file's, then the command line's (which replace a file knob of the same name).
  const fromFile = new Map<string, { values: AxisValue[]; order?: AxisOrder }>();
  for (const [name, spec] of Object.entries(file.knobs ?? {})) {
    const raw = typeof spec === "object" && spec !== null && !Array.isArray(spec) ? spec : { values: spec };
    const entry: { values: AxisValue[]; order?: AxisOrder } = {
      values: parseKnobValues(`knob ${name}`, listFromFile(raw.values)),
    };
    if ("order" in raw && raw.order !== undefined) entry.order = raw.order;
    fromFile.set(name, entry);
  }
  const fromArgs = new Map<string, AxisValue[]>();
  const addArg = (name: string, values: AxisValue[], source: string) => {
    if (fromArgs.has(name)) throw invalid(`knob "${name}" is given twice (${source} and another flag)`);
    fromArgs.set(name, values);
  };
  for (const text of args.knob ?? []) {
    const { name, values } = parseKnobFlag(text);
    addArg(name, values, `--knob ${name}`);
  }
  for (const [flag, name] of Object.entries(NATIVE_FLAGS)) {
    const input = args[flag as keyof typeof NATIVE_FLAGS];
    if (input !== undefined) addArg(name, parseKnobValues(flag, input), `--${flag}`);
  }
  const modelFiles = args["model-file"] ?? listFromFile(file.model_files);
  if (modelFiles !== undefined) {
    const files = parseKnobValues("model-file", modelFiles).map(String);
    addArg(
      "model",
      provider === "vllm" || provider === "sglang" || provider === "mlx-lm"
        ? files
        : files.map((f) => resolve(f)),
      "--model-file",
    );
  }
  const knobs = new Map<string, { values: AxisValue[]; order?: AxisOrder }>(fromFile);
  for (const [name, values] of fromArgs) knobs.set(name, { values });
  const knobAxes: Axis[] = [];
  for (const [name, { values, order }] of knobs) {
    const checked = name in STANDARD_KNOBS && name !== "model" ? checkStandardValues(name, values) : values;
    knobAxes.push(knobAxis(name, checked, order));
  }

  const model = args.model ?? file.model ?? null;
  const hasModelFile = knobs.has("model");
  if ((provider === "llama-server" || provider === "embedded") && !hasModelFile) {
    if (provider === "embedded" && model !== null) {
      knobAxes.push(knobAxis("model", [resolve(model)]));
    } else {
      throw invalid(`--server ${provider} needs a GGUF model: --model-file m.gguf (a list compares files)`);
    }
  }
  if (provider === "ollama" && model === null)
    throw invalid("--server ollama needs --model: the Ollama model tag, e.g. llama3.2:1b");
  if (
    (provider === "vllm" || provider === "sglang" || provider === "mlx-lm") &&
    model === null &&
    !hasModelFile
  ) {
    throw invalid(`--server ${provider} needs the model: --model-file PATH_OR_NAME (or --model NAME)`);
  }

  // Check every knob against the provider now, not at the first launch.
  const names = knobAxes.map((a) => a.name);
  const firstValues = Object.fromEntries(knobAxes.map((a) => [a.name, a.values[0] as AxisValue]));
  const { model: firstModel, ...firstKnobs } = firstValues;
  if (provider === "template") {
    templateProvider(serverCmd as string).checkKnobs(
      names.filter((n) => n !== "model"),
      hasModelFile,
    );
  } else if (provider === "embedded") {
    embeddedProvider.configuration(firstKnobs, 24);
  } else {
    const p = providerFor(provider);
    for (const axis of knobAxes) {
      if (axis.name === "model") continue;
      for (const value of axis.values) {
        p.command({
          program: null,
          model: firstModel === undefined ? model : String(firstModel),
          host: "127.0.0.1",
          port: 1,
          knobs: { ...firstKnobs, [axis.name]: value },
          model_layers: 24,
        });
      }
    }
  }

  const program = args["server-bin"] ?? file.server_bin;
  return {
    ...commonFields(args, file),
    provider,
    server_cmd: serverCmd ?? null,
    program: program === undefined ? null : [program],
    ready_path: args["ready-path"] ?? file.ready_path ?? null,
    api: args.api ?? file.api ?? (provider === "ollama" ? "ollama" : "chat"),
    model,
    knob_axes: knobAxes,
  };
}
