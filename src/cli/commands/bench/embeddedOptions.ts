import type { Argv } from "yargs";
import { type BenchTestPlan, type EngineKnobs, expandTests } from "../../../engine/EngineGrid.js";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import { parseIntList } from "../../../search/parseListValues.js";
import { TRACE_LEVELS, type TraceLevel } from "../../../trace/TraceEvent.js";
import {
  type KnobInput,
  MAX_KNOB,
  parseCacheTypeList,
  parseFlashAttnList,
  parseGpuLayersList,
  parsePgList,
} from "../../parseKnobLists.js";
import { checkNumberFlag } from "../../parseNumberFlag.js";

/** Most timed repetitions of one test: more only multiplies the run's length. */
const MAX_REPETITIONS = 10_000;

/**
 * Most test configurations of one command, tests x knob combinations: each list is capped, but
 * their product was not (`--pp 1-1000+1 --tg 1-1000+1 --threads 1-64` asked for 128,000, days of
 * work that started without a word). Repetitions have their own cap ({@link MAX_REPETITIONS}): many
 * of one test is a choice, a product this large is a typo.
 */
export const MAX_TEST_CONFIGURATIONS = 10_000;

const GROUP = "Embedded engine (llama-bench style; lists: 1,2,4  ranges: 1-8, 1-8+2, 1-64*2):";
const OBSERVE_GROUP = "Inside a step (needs `npm run build:observer`; docs/trace.md):";

const list = (description: string) => ({
  type: "string" as const,
  array: true as const,
  group: GROUP,
  description,
});

/**
 * The embedded-engine flags (llama-bench's tests and knobs, trace), as yargs option definitions.
 * Every one of them is refused with `--url` (checkTargetFlags), so none has a yargs default: a
 * value is there only when the user typed it, and the defaults are applied in {@link parseEmbeddedArgs}.
 */
export const EMBEDDED_OPTIONS = {
  pp: list("Prompt-processing tests: prompt lengths in tokens (llama-bench -p)"),
  tg: list("Generation tests: tokens to generate (llama-bench -n)"),
  pg: list('Prompt+generation tests, "pp,tg" pairs, e.g. --pg 512,128 (llama-bench -pg)'),
  depth: list("Context depths: tokens already in the KV cache before each test (llama-bench -d)"),
  repetitions: {
    alias: "r",
    requiresArg: true,
    group: GROUP,
    description: "Timed repetitions of each test (default: 5; 3 in the quick start, with no test flag)",
  },
  threads: { ...list("CPU threads (default: tuned for this machine)"), alias: "t" },
  "batch-size": { ...list("Logical batch size n_batch (default: 2048)"), alias: "b" },
  "ubatch-size": { ...list("Physical batch size n_ubatch (default: 512)"), alias: "ub" },
  "ctx-size": list("Context size per sequence (default: the largest test / request needs)"),
  "gpu-layers": {
    ...list("Layers offloaded to the GPU, or % of layers: 0,25%,50%,100% (default: 0)"),
    alias: "ngl",
  },
  "flash-attn": { ...list("Flash attention: 0, 1 or auto (default: 0)"), alias: "fa" },
  "cache-type-k": { ...list("KV cache K type: f16, q8_0, q4_0, ... (default: f16)"), alias: "ctk" },
  "cache-type-v": {
    ...list("KV cache V type; quantized needs --flash-attn 1 (default: f16)"),
    alias: "ctv",
  },
  parallel: {
    ...list("Parallel sequences in one context (default: 1; requests: --concurrency)"),
    alias: "np",
  },
  "skip-warmup-test": {
    type: "boolean",
    group: GROUP,
    description: "Skip llama-bench's untimed warmup run of each test",
  },
  "engine-gpu": {
    type: "string",
    choices: ["auto", "cpu", "cuda", "vulkan", "metal"],
    group: GROUP,
    description: "llama.cpp backend; cpu: no GPU (default: auto)",
  },
  trace: {
    type: "string",
    group: GROUP,
    description: "Write a per-step generation trace (NDJSON) to this file",
  },
  "trace-level": {
    type: "string",
    choices: TRACE_LEVELS,
    group: GROUP,
    description:
      "minimal: per generation; detailed: + every batch and step (+ layers with --layers); verbose: + tensor table (+ graph tensors with --experts/--layers) (default: detailed)",
  },
  experts: {
    type: "boolean",
    group: OBSERVE_GROUP,
    description:
      "Count the experts the router picks per layer (MoE models); an observation run, not a speed run",
  },
  layers: {
    type: "boolean",
    group: OBSERVE_GROUP,
    description:
      "Time every transformer layer of prefill and decode steps; an observation run, not a speed run",
  },
} as const;

/** Adds the embedded-engine flags (llama-bench's tests and knobs, trace) to a yargs builder. */
export function withEmbeddedOptions<T>(yargs: Argv<T>) {
  return yargs.options(EMBEDDED_OPTIONS);
}

/** The embedded flags as yargs parses them. */
export interface EmbeddedArgs {
  pp?: KnobInput;
  tg?: KnobInput;
  pg?: KnobInput;
  depth?: KnobInput;
  repetitions?: unknown;
  threads?: KnobInput;
  "batch-size"?: KnobInput;
  "ubatch-size"?: KnobInput;
  "ctx-size"?: KnobInput;
  "gpu-layers"?: KnobInput;
  "flash-attn"?: KnobInput;
  "cache-type-k"?: KnobInput;
  "cache-type-v"?: KnobInput;
  parallel?: KnobInput;
  "skip-warmup-test"?: boolean;
  "engine-gpu"?: string;
  trace?: string | undefined;
  "trace-level"?: string;
  experts?: boolean;
  layers?: boolean;
}

/** Embedded options after validation; knob lists that were not given are empty (defaults apply later). */
export interface ParsedEmbeddedArgs {
  /** Null when no --pp, --tg or --pg was given. */
  plan: BenchTestPlan | null;
  repetitions: number;
  /** Knobs as given; an empty list means "use the default". */
  knobs: EngineKnobs;
  warmup: boolean;
  gpu: "auto" | "cuda" | "vulkan" | "metal" | false;
  trace: { path: string; level: TraceLevel } | null;
  /**
   * What to observe inside the steps (`--experts`, `--layers`; graph tensors with a verbose trace);
   * null for a plain speed run.
   */
  observe: { experts: boolean; layers: boolean; tensors: boolean } | null;
}

const given = (input: KnobInput): boolean =>
  input !== undefined && !(Array.isArray(input) && input.length === 0);

/**
 * Throws INVALID_ARGUMENT when the tests and the knob combinations (a knob not given counts once:
 * its default) multiply to more than {@link MAX_TEST_CONFIGURATIONS}.
 */
function refuseTooManyRuns(plan: BenchTestPlan, knobs: EngineKnobs, repetitions: number): void {
  const tests = expandTests(plan).length;
  const combinations = Object.values(knobs).reduce(
    (n: number, list: unknown[]) => n * Math.max(1, list.length),
    1,
  );
  if (tests * combinations <= MAX_TEST_CONFIGURATIONS) return;
  const count = (n: number): string => n.toLocaleString("en-US");
  throw new TokbenchError(
    "INVALID_ARGUMENT",
    `${count(tests)} tests x ${count(combinations)} knob combination${combinations === 1 ? "" : "s"} = ${count(tests * combinations)} test configurations (x ${count(repetitions)} repetition${repetitions === 1 ? "" : "s"}), more than ${count(MAX_TEST_CONFIGURATIONS)}: shorten the lists (--pp, --tg, --pg, --depth, the knobs)`,
    { context: { tests, combinations, repetitions } },
  );
}

/** Validates the embedded flags; throws INVALID_ARGUMENT naming the flag on any bad value. */
export function parseEmbeddedArgs(args: EmbeddedArgs): ParsedEmbeddedArgs {
  const planGiven = given(args.pp) || given(args.tg) || given(args.pg);
  const plan: BenchTestPlan | null = planGiven
    ? {
        pp: parseIntList("pp", args.pp, 0, MAX_KNOB.tokens),
        tg: parseIntList("tg", args.tg, 0, MAX_KNOB.tokens),
        pg: parsePgList("pg", args.pg),
        depth: parseIntList("depth", args.depth, 0, MAX_KNOB.tokens),
      }
    : given(args.depth)
      ? { pp: [], tg: [], pg: [], depth: parseIntList("depth", args.depth, 0, MAX_KNOB.tokens) }
      : null;
  const repetitions =
    args.repetitions === undefined
      ? 5
      : checkNumberFlag("repetitions", args.repetitions, { min: 1, max: MAX_REPETITIONS, integer: true });
  const ctx = parseIntList("ctx-size", args["ctx-size"], 1, MAX_KNOB.context);
  const level = args["trace-level"] ?? "detailed";
  if (!(TRACE_LEVELS as readonly string[]).includes(level)) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--trace-level must be one of ${TRACE_LEVELS.join(", ")} (got "${level}")`,
    );
  }
  const gpu = args["engine-gpu"] ?? "auto";
  if (!["auto", "cpu", "cuda", "vulkan", "metal"].includes(gpu)) {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `--engine-gpu must be auto, cpu, cuda, vulkan or metal (got "${gpu}")`,
    );
  }
  const knobs: EngineKnobs = {
    threads: parseIntList("threads", args.threads, 1, MAX_KNOB.threads),
    batch_size: parseIntList("batch-size", args["batch-size"], 1, MAX_KNOB.batch),
    ubatch_size: parseIntList("ubatch-size", args["ubatch-size"], 1, MAX_KNOB.batch),
    ctx_size: ctx,
    gpu_layers: parseGpuLayersList("gpu-layers", args["gpu-layers"]),
    flash_attn: parseFlashAttnList("flash-attn", args["flash-attn"]),
    type_k: parseCacheTypeList("cache-type-k", args["cache-type-k"]),
    type_v: parseCacheTypeList("cache-type-v", args["cache-type-v"]),
    parallel: parseIntList("parallel", args.parallel, 1, MAX_KNOB.parallel),
  };
  if (plan !== null) refuseTooManyRuns(plan, knobs, repetitions);
  return {
    plan,
    repetitions,
    knobs,
    warmup: args["skip-warmup-test"] !== true,
    gpu: gpu === "cpu" ? false : (gpu as "auto" | "cuda" | "vulkan" | "metal"),
    trace:
      args.trace === undefined || args.trace === "" ? null : { path: args.trace, level: level as TraceLevel },
    observe:
      args.experts === true || args.layers === true
        ? {
            experts: args.experts === true,
            layers: args.layers === true,
            tensors: args.trace !== undefined && args.trace !== "" && level === "verbose",
          }
        : null,
  };
}
