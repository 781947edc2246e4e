import { getLlama, type Llama, type LlamaContext, LlamaLogLevel } from "node-llama-cpp";
import { TokbenchError } from "../errors/TokbenchError.js";
import { type EnginePerf, parseEnginePerf } from "./parseEnginePerf.js";

/** How to obtain the llama.cpp binding. Passed through to node-llama-cpp's `getLlama`. */
export interface EngineBindingOptions {
  /**
   * Compute backend: `"auto"` (best GPU found, else CPU), `"cuda"`, `"vulkan"`, `"metal"`, or
   * `false` for CPU only. Defaults to `"auto"`.
   */
  gpu?: "auto" | "cuda" | "vulkan" | "metal" | false;
  /**
   * node-llama-cpp build policy. `"never"` uses a local build of llama.cpp if one exists, else the
   * prebuilt binary, and never compiles silently in the middle of a benchmark. Defaults to `"never"`.
   */
  build?: "auto" | "never" | "forceRebuild" | "try" | "autoAttempt";
  /** Extra CMake options for a build from source (only with a `build` that compiles). Defaults to none. */
  cmakeOptions?: Record<string, string>;
  /**
   * Ceiling on threads node-llama-cpp hands a context. tokbench sets 0 (no ceiling) so the thread
   * count asked for is the one used, as in llama-bench. Defaults to 0.
   */
  maxThreads?: number;
}

/** Lines llama.cpp logged at warning level or above, kept to explain a failure. */
const MAX_KEPT_WARNINGS = 20;
/** Longest wait for llama.cpp's perf lines after asking for them (they come within a turn or two). */
const PERF_WAIT_MS = 100;

/**
 * One llama.cpp binding (a node-llama-cpp `Llama`) with its log routed into tokbench: nothing is
 * printed, warnings are kept to explain failures, and llama.cpp's own performance counters
 * (`llama_perf_context_print`) are captured and parsed instead of printed.
 */
export class EngineBinding {
  readonly llama: Llama;
  /** Where llama.cpp's perf lines go while {@link readPerf} waits for them. */
  private perfSink: { lines: string[]; complete: () => void } | null = null;
  private perfLock: Promise<unknown> = Promise.resolve();
  private warnings: string[] = [];

  private constructor(llama: Llama) {
    this.llama = llama;
    llama.logger = (level, message) => this.onLog(level, message);
  }

  /**
   * Wraps an existing `Llama` instance (for example one a tuned native build provides). Its logger
   * is replaced so that llama.cpp never prints on its own.
   */
  static fromLlama(llama: Llama): EngineBinding {
    return new EngineBinding(llama);
  }

  /** Loads the binding. Throws ENGINE_UNAVAILABLE when no working llama.cpp binary is found. */
  static async open(options: EngineBindingOptions = {}): Promise<EngineBinding> {
    let binding: EngineBinding | null = null;
    try {
      const llama = await getLlama({
        gpu: options.gpu ?? "auto",
        build: options.build ?? "never",
        cmakeOptions: options.cmakeOptions,
        maxThreads: options.maxThreads ?? 0,
        logLevel: LlamaLogLevel.warn,
        logger: (level, message) => binding?.onLog(level, message),
        progressLogs: false,
      });
      binding = new EngineBinding(llama);
      return binding;
    } catch (cause) {
      throw new TokbenchError(
        "ENGINE_UNAVAILABLE",
        `cannot load the llama.cpp binding (node-llama-cpp, gpu=${String(options.gpu ?? "auto")}): ${firstLine(cause)}`,
        { cause, context: { gpu: String(options.gpu ?? "auto"), build: options.build ?? "never" } },
      );
    }
  }

  /** `node-llama-cpp <version>`-style engine name and the llama.cpp release it was built from. */
  describe(): { backend: string; build: string; llama_cpp_release: string } {
    return {
      backend: this.llama.gpu === false ? "cpu" : this.llama.gpu,
      build: this.llama.buildType,
      llama_cpp_release: this.llama.llamaCppRelease.release,
    };
  }

  /** Takes (and clears) the warnings llama.cpp logged since the last call. */
  takeWarnings(): string[] {
    const out = this.warnings;
    this.warnings = [];
    return out;
  }

  /**
   * Reads and resets llama.cpp's performance counters of a context (created with
   * `performanceTracking: true`). Counters cover every decode since the previous read.
   * Returns null when the counters could not be captured.
   */
  readPerf(context: LlamaContext): Promise<EnginePerf | null> {
    const run = this.perfLock.then(async () => {
      const lines: string[] = [];
      const previous = this.llama.logLevel;
      // The lines arrive through a thread-safe callback on a later turn of the event loop; the read
      // ends with the "total time" line, or after PERF_WAIT_MS if it never comes. Polling with timers
      // instead cost ~1 ms a turn, twice per request between one-slot requests.
      let timer: NodeJS.Timeout | undefined;
      const complete = new Promise<void>((resolve) => {
        this.perfSink = { lines, complete: resolve };
        timer = setTimeout(resolve, PERF_WAIT_MS);
      });
      this.llama.logLevel = LlamaLogLevel.info;
      try {
        // node-llama-cpp's printTimings() ends with a timer turn (~1 ms) after the native call; the
        // native call alone (the version is pinned) and the wait for the last line are enough.
        const native = (context as unknown as { _ctx?: { printTimings?: () => void } })._ctx;
        if (typeof native?.printTimings === "function") native.printTimings();
        else await context.printTimings();
        await complete;
      } finally {
        clearTimeout(timer);
        this.llama.logLevel = previous;
        this.perfSink = null;
      }
      return parseEnginePerf(lines);
    });
    this.perfLock = run.catch(() => undefined);
    return run;
  }

  private onLog(level: LlamaLogLevel, message: string): void {
    const sink = this.perfSink;
    if (sink !== null && message.includes("llama_perf_context_print")) {
      sink.lines.push(message);
      if (message.includes("total time")) sink.complete();
      return;
    }
    if (level === LlamaLogLevel.warn || level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) {
      this.warnings.push(message.trim());
      if (this.warnings.length > MAX_KEPT_WARNINGS) this.warnings.shift();
    }
  }
}

/** First line of an error's message, for one-line error reports. */
export function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]?.trim() ?? "";
}
