import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { TokbenchError } from "../errors/TokbenchError.js";
import { median } from "../stats/descriptive.js";

/** Options of {@link measureMemoryBandwidth}. */
export interface MeasureBandwidthOptions {
  /** Reader threads. Defaults to the number of logical CPUs (`os.availableParallelism()`). */
  readonly threads?: number;
  /** Buffer each thread reads; must dwarf the last-level cache. Defaults to 256 MiB. */
  readonly bytesPerThread?: number;
  /** Full reads of its buffer per thread per round. Defaults to 3. */
  readonly passes?: number;
  /** Timed rounds; the fastest one is reported, as interference only ever slows a round. Defaults to 5. */
  readonly rounds?: number;
  /** Stops the probe: its threads are terminated and it throws `RUN_INTERRUPTED`. Defaults to none. */
  readonly signal?: AbortSignal;
  /**
   * Called when the buffers are ready (0 done) and after each round, for a progress display; the
   * library prints nothing. Defaults to none.
   */
  readonly onProgress?: (roundsDone: number, rounds: number) => void;
}

/** A bandwidth measurement. */
export interface BandwidthMeasurement {
  /** Aggregate read bandwidth of the fastest round, bytes per second. */
  readonly bytes_per_second: number;
  /** Median round, bytes per second (how noisy the machine was). */
  readonly median_bytes_per_second: number;
  readonly threads: number;
  readonly bytes_per_thread: number;
  readonly rounds: number;
  /** How the memory was read. */
  readonly method: "wasm-simd-read";
  /** ISO time of the measurement. */
  readonly measured_at: string;
}

/**
 * Measures this machine's sustained memory read bandwidth: `threads` workers each stream through
 * their own buffer with 128-bit WebAssembly SIMD loads, started together at a shared barrier; the
 * bandwidth of a round is all bytes read over the wall time from start until the last worker ends.
 * This is the figure that bounds LLM decode speed (every weight is read once per token).
 */
export async function measureMemoryBandwidth(
  options: MeasureBandwidthOptions = {},
): Promise<BandwidthMeasurement> {
  const threads = options.threads ?? availableParallelism();
  const bytesPerThread = options.bytesPerThread ?? 256 * 1024 * 1024;
  const passes = options.passes ?? 3;
  const rounds = options.rounds ?? 5;
  for (const [name, v] of Object.entries({ threads, bytesPerThread, passes, rounds })) {
    if (!Number.isInteger(v) || v <= 0) {
      throw new TokbenchError(
        "INVALID_ARGUMENT",
        `bandwidth probe: ${name} must be a positive integer, got ${v}`,
      );
    }
  }
  const control = new Int32Array(new SharedArrayBuffer(12));
  const workers: Worker[] = [];
  const results: Promise<{ readBytesPerRound: number }>[] = [];
  const signal = options.signal;
  const interrupted = () =>
    new TokbenchError("RUN_INTERRUPTED", "bandwidth probe stopped", { cause: signal?.reason });
  if (signal?.aborted === true) throw interrupted();
  // An abort rejects at once; the finally below terminates the threads.
  let onAbort: (() => void) | null = null;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(interrupted());
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  aborted.catch(() => {});
  try {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(new URL("./bandwidthWorker.js", import.meta.url), {
        workerData: { control: control.buffer, bufferBytes: bytesPerThread, passes, rounds },
      });
      workers.push(w);
      results.push(
        new Promise((resolve, reject) => {
          w.once("message", resolve);
          w.once("error", reject);
        }),
      );
    }
    const failed = Promise.race([aborted, ...results.map((p) => p.then(() => new Promise<never>(() => {})))]);
    await Promise.race([waitFor(control, 1, threads), failed]);
    options.onProgress?.(0, rounds);
    const seconds: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      Atomics.store(control, 2, 0);
      const start = performance.now();
      Atomics.store(control, 0, round);
      Atomics.notify(control, 0);
      await Promise.race([waitFor(control, 2, threads), failed]);
      seconds.push((performance.now() - start) / 1000);
      options.onProgress?.(round, rounds);
    }
    const done = await Promise.race([Promise.all(results), aborted]);
    const bytesPerRound = done.reduce((s, r) => s + r.readBytesPerRound, 0);
    const rates = seconds.map((s) => bytesPerRound / s).sort((a, b) => a - b);
    return {
      bytes_per_second: rates[rates.length - 1] as number,
      median_bytes_per_second: median(rates),
      threads,
      bytes_per_thread: bytesPerThread,
      rounds,
      method: "wasm-simd-read",
      measured_at: new Date().toISOString(),
    };
  } catch (error) {
    if (error instanceof TokbenchError && error.code === "RUN_INTERRUPTED") throw error;
    throw new TokbenchError("INTERNAL", `bandwidth probe failed: ${(error as Error).message}`, {
      cause: error,
    });
  } finally {
    if (onAbort !== null) signal?.removeEventListener("abort", onAbort);
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** `Atomics.waitAsync` (Node >= 16), missing from this project's ES2023 lib typings. */
interface AtomicsWithWaitAsync {
  waitAsync(
    array: Int32Array,
    index: number,
    value: number,
    timeoutMs: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** Resolves once `control[index]` reaches `target`, without blocking the main thread's event loop. */
async function waitFor(control: Int32Array, index: number, target: number): Promise<void> {
  for (;;) {
    const v = Atomics.load(control, index);
    if (v >= target) return;
    const r = (Atomics as unknown as AtomicsWithWaitAsync).waitAsync(control, index, v, 1000);
    if (r.async) await r.value;
  }
}
