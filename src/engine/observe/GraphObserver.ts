import { existsSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Llama } from "node-llama-cpp";
import { TokbenchError } from "../../errors/TokbenchError.js";

/** Region of a graph node or timed span: a layer index (>= 0), or the parts before and after the layers. */
export const REGION_INPUT = -1;
export const REGION_OUTPUT = -2;

/** What an observed decode records. */
export interface ObserveWhat {
  /** Time each transformer layer (one synchronisation after each layer's last node). */
  layers: boolean;
  /** Count the router's expert choices (one synchronisation after each `ffn_moe_topk-<layer>`). */
  experts: boolean;
  /** Record every graph node's name, op, type, shape and inputs (no synchronisation, no data). */
  tensors: boolean;
}

/** A graph node as the observer saw it before it was computed. Never carries tensor data. */
export interface ObservedTensor {
  name: string;
  /** ggml op, e.g. `MUL_MAT`, `MUL_MAT_ID`, `ROPE`, `SWIGLU`. */
  op: string;
  /** ggml type name, e.g. `f32`, `q4_0`. */
  type: string;
  /** ggml's `ne`: elements per dimension, innermost first. */
  ne: number[];
  nbytes: number;
  /** Layer index, or {@link REGION_INPUT} / {@link REGION_OUTPUT}. */
  layer: number;
  /** Names of the node's inputs (weights and other nodes). */
  src: string[];
}

/** A span of an observed decode, in `performance.now()` milliseconds. */
export interface ObservedSpan {
  /** Layer index, or {@link REGION_INPUT} / {@link REGION_OUTPUT}. */
  region: number;
  t_start_ms: number;
  t_end_ms: number;
}

/** What armed decodes do: nothing (`off`), only time the call (`time`), or observe its graph (`observe`). */
export type ArmMode = "off" | "time" | "observe";

/**
 * One `llama_decode` call taken while armed. Times in milliseconds. A `time`-armed call (an
 * unobserved reference step) has only `n_tokens`, `status` and its times; the rest is empty.
 */
export interface ObservedDecode {
  /** False for a call that was only timed. */
  observed: boolean;
  n_tokens: number;
  /** llama_decode's return value (0: success). */
  status: number;
  /** Scheduler graph computations inside the call (one per ubatch). */
  computes: number;
  /** Synchronisation points the observation added. */
  syncs: number;
  /** Entry and exit of llama_decode, `performance.now()` time base. */
  t_start_ms: number;
  t_end_ms: number;
  /** llama_decode's own duration: input + layers + output + observer. */
  decode_ms: number;
  /**
   * CPU time the process spent during the call (all its threads): unlike `decode_ms`, not inflated
   * when other processes take the cores.
   */
  cpu_ms: number;
  /** Before the first layer: graph build or reuse, input upload, embedding lookup. */
  input_ms: number;
  /** After the last layer: final norm, output head, logits copy-out. */
  output_ms: number;
  /** The observer's own work inside the call: laying out the graph, reading expert ids. */
  observer_ms: number;
  /** Per layer (index = layer), 0 when layers are not timed. */
  layer_ms: Float64Array;
  /** Spans attributed to each layer (1 normally; more if a layer's nodes are interleaved with another's). */
  layer_spans: Int32Array;
  /** `n_layer * n_expert` selections (layer-major), when experts are counted. */
  expert_counts: Int32Array | null;
  /** Tokens whose experts were chosen, per layer, when experts are counted. */
  tokens_routed: Int32Array | null;
  /** Expert ids outside [0, n_expert) or unreadable router outputs; 0 in a sound run. */
  bad_ids: number;
  /** The timeline, when layers are timed. */
  spans: ObservedSpan[] | null;
  /** Every graph node, when tensors are recorded. */
  tensors: ObservedTensor[] | null;
}

/** The model facts the observer needs to size its counters. */
export interface ObservedModelShape {
  n_layer: number;
  /** 0 for a dense model. */
  n_expert: number;
  n_expert_used: number;
}

/** What the native addon reports about itself (native/graph-observer/graph_observer.c). */
interface ObserverInfo {
  abi: number;
  llama_cpp_tag: string;
  llama_cpp_commit: string;
  decodes_seen: number;
  computes_seen: number;
  busy_skipped: number;
  error: string | null;
  libllama: string;
  libggml_base: string;
}

interface RawDecode {
  observed: boolean;
  n_tokens: number;
  status: number;
  computes: number;
  syncs: number;
  t_enter_ns: number;
  t_exit_ns: number;
  cpu_ns: number;
  input_ns: number;
  output_ns: number;
  observer_ns: number;
  bad_ids: number;
  layer_ns: Float64Array;
  layer_segments: Int32Array;
  expert_counts?: Int32Array;
  tokens_routed?: Int32Array;
  spans?: { region: number; t0_ns: number; t1_ns: number }[];
  tensors?: ObservedTensor[];
}

interface ObserverAddon {
  info(): ObserverInfo;
  configure(options: { flags: number; n_layer: number; n_expert: number; n_expert_used: number }): void;
  arm(mode: 0 | 1 | 2): void;
  take(): RawDecode[];
  nowNs(): number;
}

const ADDON_ABI = 2;
const ARM_CODES = { off: 0, time: 1, observe: 2 } as const;
const FLAG_LAYERS = 1;
const FLAG_EXPERTS = 2;
const FLAG_TENSORS = 4;
const ADDON_FILE = "tokbench-graph-observer.node";
/** How to get the addon, for every "missing" message. */
export const OBSERVER_BUILD_HINT = "run `npm run build:observer` (seconds, offline; docs/trace.md)";

let loaded: GraphObserver | null = null;

/**
 * tokbench's window into llama.cpp's compute graph: per-layer timing, mixture-of-experts routing
 * counts and the graph's tensors, observed inside the very llama.cpp binary node-llama-cpp runs.
 *
 * The native part (`native/graph-observer/`, built by `npm run build:observer`) defines
 * `llama_decode` and `ggml_backend_sched_graph_compute_async`; loaded into the process's global
 * symbol scope before node-llama-cpp loads its addon, it sits in front of those two calls and sets
 * ggml's scheduler evaluation callback (llama.cpp's `cb_eval`, which node-llama-cpp does not expose)
 * for the decodes tokbench arms, and only for them. docs/trace.md explains the choice.
 *
 * Observed decodes are slower (a synchronisation per layer and per router): their times describe
 * where a step goes, never how fast the engine is.
 */
export class GraphObserver {
  readonly path: string;
  private readonly addon: ObserverAddon;
  /** performance.now() − the addon's CLOCK_MONOTONIC, in ms (both count from the same clock). */
  private readonly clockOffsetMs: number;
  private shape: ObservedModelShape | null = null;

  private constructor(path: string, addon: ObserverAddon) {
    this.path = path;
    this.addon = addon;
    this.clockOffsetMs = calibrate(addon);
  }

  /** Where tokbench looks for the addon: `$TOKBENCH_GRAPH_OBSERVER`, else the build script's output. */
  static defaultPath(env: NodeJS.ProcessEnv = process.env): string {
    const explicit = env.TOKBENCH_GRAPH_OBSERVER;
    if (explicit !== undefined && explicit !== "") return explicit;
    const root = fileURLToPath(new URL("../../../../", import.meta.url));
    const buildRoot =
      env.LLAMA_BUILD_DIR !== undefined && env.LLAMA_BUILD_DIR !== ""
        ? env.LLAMA_BUILD_DIR
        : join(root, "llama-build");
    return join(buildRoot, "build-observer", ADDON_FILE);
  }

  /** Whether the addon is built where {@link defaultPath} looks. */
  static isAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
    return existsSync(GraphObserver.defaultPath(env));
  }

  /**
   * Loads the addon (once per process; later calls return the same observer). Must run before
   * node-llama-cpp loads its binding (`getLlama`), or the observer is not in the call path: the
   * first observed decode then fails with OBSERVER_NOT_ATTACHED. Throws OBSERVER_UNAVAILABLE when
   * the addon is not built.
   */
  static load(path: string = GraphObserver.defaultPath()): GraphObserver {
    if (loaded !== null) return loaded;
    if (!existsSync(path)) {
      throw new TokbenchError(
        "OBSERVER_UNAVAILABLE",
        `the graph observer is not built: ${OBSERVER_BUILD_HINT}`,
        {
          context: { path },
        },
      );
    }
    const module = { exports: {} as ObserverAddon };
    try {
      // RTLD_GLOBAL puts its llama_decode and scheduler wrappers in front of libllama's for every
      // library loaded afterwards, node-llama-cpp's addon included.
      process.dlopen(module, path, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
    } catch (cause) {
      throw new TokbenchError(
        "OBSERVER_UNAVAILABLE",
        `cannot load the graph observer ${path}: ${OBSERVER_BUILD_HINT}`,
        {
          context: { path },
          cause,
        },
      );
    }
    const info = module.exports.info();
    if (info.abi !== ADDON_ABI) {
      throw new TokbenchError(
        "OBSERVER_MISMATCH",
        `the graph observer at ${path} is from another tokbench version (abi ${info.abi}, expected ${ADDON_ABI}): ${OBSERVER_BUILD_HINT}`,
        { context: { path } },
      );
    }
    loaded = new GraphObserver(path, module.exports);
    return loaded;
  }

  /** The llama.cpp release and commit whose headers the addon was compiled against. */
  get builtFor(): { tag: string; commit: string } {
    const info = this.addon.info();
    return { tag: info.llama_cpp_tag, commit: info.llama_cpp_commit };
  }

  /**
   * Throws OBSERVER_MISMATCH unless `llama` runs the llama.cpp release the addon was compiled for:
   * the wrappers pass llama.cpp structs through and read ggml's tensor layout, which only the same
   * release guarantees.
   */
  assertMatches(llama: Llama): void {
    const release = llama.llamaCppRelease.release;
    const { tag } = this.builtFor;
    if (release !== tag) {
      throw new TokbenchError(
        "OBSERVER_MISMATCH",
        `the graph observer was built for llama.cpp ${tag} but node-llama-cpp runs ${release}: ${OBSERVER_BUILD_HINT}`,
        { context: { built_for: tag, running: release } },
      );
    }
  }

  /** Sets what the next armed decodes record. Not while armed. */
  configure(what: ObserveWhat, shape: ObservedModelShape): void {
    const experts = what.experts && shape.n_expert > 0 && shape.n_expert_used > 0;
    this.addon.configure({
      flags:
        (what.layers ? FLAG_LAYERS : 0) | (experts ? FLAG_EXPERTS : 0) | (what.tensors ? FLAG_TENSORS : 0),
      n_layer: shape.n_layer,
      n_expert: experts ? shape.n_expert : 0,
      n_expert_used: experts ? shape.n_expert_used : 0,
    });
    this.shape = shape;
  }

  /**
   * What the llama_decode calls that follow, on any context, do: `observe` them, only `time` them
   * (on the observer's clock, for unobserved reference steps), or nothing (`off`).
   */
  arm(mode: ArmMode): void {
    if (mode !== "off" && this.shape === null) {
      throw new TokbenchError("INTERNAL", "GraphObserver.arm() before configure()");
    }
    this.addon.arm(ARM_CODES[mode]);
  }

  /**
   * The decodes observed since the last call, oldest first. Throws OBSERVER_NOT_ATTACHED when decodes
   * were armed but never reached the observer (node-llama-cpp's binding was loaded first, or links
   * llama.cpp statically), and ENGINE_DECODE_FAILED when the wrappers could not find llama.cpp.
   */
  take(): ObservedDecode[] {
    const raw = this.addon.take();
    if (raw.length === 0) this.checkAttached();
    if (raw.some((d) => d.observed && d.computes === 0 && d.status === 0)) {
      throw new TokbenchError(
        "OBSERVER_NOT_ATTACHED",
        "llama_decode reached the graph observer but its graph computation did not (is ggml linked statically into libllama?)",
      );
    }
    return raw.map((d) => this.convert(d));
  }

  /** Counters of the wrappers since the addon was loaded (diagnostics). */
  status(): ObserverInfo {
    return this.addon.info();
  }

  private checkAttached(): void {
    const info = this.addon.info();
    if (info.error !== null) {
      throw new TokbenchError(
        "OBSERVER_NOT_ATTACHED",
        `the graph observer cannot reach llama.cpp: ${info.error}`,
        {
          context: { libllama: info.libllama, libggml_base: info.libggml_base },
        },
      );
    }
    if (info.decodes_seen === 0) {
      throw new TokbenchError(
        "OBSERVER_NOT_ATTACHED",
        "the graph observer saw no llama_decode call: it must be loaded before node-llama-cpp's binding (GraphObserver.load() before getLlama())",
      );
    }
  }

  private convert(d: RawDecode): ObservedDecode {
    const ms = (ns: number): number => ns / 1e6;
    const at = (ns: number): number => ns / 1e6 + this.clockOffsetMs;
    const layerMs = new Float64Array(d.layer_ns.length);
    for (let i = 0; i < layerMs.length; i++) layerMs[i] = ms(d.layer_ns[i] as number);
    return {
      observed: d.observed,
      n_tokens: d.n_tokens,
      status: d.status,
      computes: d.computes,
      syncs: d.syncs,
      t_start_ms: at(d.t_enter_ns),
      t_end_ms: at(d.t_exit_ns),
      decode_ms: ms(d.t_exit_ns - d.t_enter_ns),
      cpu_ms: ms(d.cpu_ns),
      input_ms: ms(d.input_ns),
      output_ms: ms(d.output_ns),
      observer_ms: ms(d.observer_ns),
      layer_ms: layerMs,
      layer_spans: d.layer_segments,
      expert_counts: d.expert_counts ?? null,
      tokens_routed: d.tokens_routed ?? null,
      bad_ids: d.bad_ids,
      spans:
        d.spans?.map((s) => ({ region: s.region, t_start_ms: at(s.t0_ns), t_end_ms: at(s.t1_ns) })) ?? null,
      tensors: d.tensors ?? null,
    };
  }
}

/**
 * performance.now() and the addon's clock_gettime(CLOCK_MONOTONIC) read the same clock from different
 * origins; the offset is taken from the tightest of a few bracketed reads (error: a few µs).
 */
function calibrate(addon: ObserverAddon): number {
  let best = Number.POSITIVE_INFINITY;
  let offset = 0;
  for (let i = 0; i < 16; i++) {
    const before = performance.now();
    const native = addon.nowNs() / 1e6;
    const after = performance.now();
    if (after - before < best) {
      best = after - before;
      offset = (before + after) / 2 - native;
    }
  }
  return offset;
}

/** For tests: whether this process loaded the addon (it cannot be unloaded). */
export function isObserverLoaded(): boolean {
  return loaded !== null;
}
