import { TokbenchError } from "../errors/TokbenchError.js";

/** The signals that ask a long command to stop: Ctrl-C, `kill`, and the terminal going away. */
export const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** One of {@link STOP_SIGNALS}. */
export type StopSignalName = (typeof STOP_SIGNALS)[number];

/** POSIX numbers, for the conventional exit code 128 + n. */
const SIGNAL_NUMBERS: Readonly<Record<StopSignalName, number>> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

/**
 * The same signal again within this many milliseconds of the first is the same request, not a
 * second one: a terminal delivers Ctrl-C (and a closing terminal SIGHUP) to the whole process
 * group, so a process that tokbench relaunched (the tuned engine build) gets it once from the
 * terminal and once forwarded by its parent. No one presses Ctrl-C twice within a quarter second
 * to mean "quit at once".
 */
const SAME_SIGNAL_WINDOW_MS = 250;

/** The exit code a process stopped by `signal` reports: 128 + its number (130, 143, 129). */
export function signalExitCode(signal: StopSignalName): number {
  return 128 + SIGNAL_NUMBERS[signal];
}

/** Handles that want to hear about stop signals; the process listeners exist while it is not empty. */
const active = new Set<StopSignals>();
let first: { signal: StopSignalName; at: number } | null = null;
let listening = false;

function describeSignal(signal: StopSignalName): string {
  return signal === "SIGINT" ? "Ctrl-C" : signal;
}

/** A stopped run's `status_reason`. */
function stopMessage(signal: StopSignalName): string {
  return signal === "SIGINT" ? "interrupted by the user (Ctrl-C)" : `stopped by ${signal}`;
}

function onSignal(signal: StopSignalName): void {
  const now = performance.now();
  if (first === null) {
    first = { signal, at: now };
    if (signal === "SIGHUP") quietStdio();
    // The innermost handle is the work under way: a setup step says it stopped in its own one line
    // (its error), a run says it now, since it may take a moment to finish.
    const innermost = [...active].at(-1);
    if (innermost !== undefined && innermost.setup === null && innermost.runStarted) {
      const again = signal === "SIGINT" ? "Ctrl-C again" : `${signal} again`;
      writeStderr(
        `\ntokbench: ${describeSignal(signal)}: stopping cleanly (${again} to quit at once); finished requests are kept\n`,
      );
    }
    for (const handle of [...active]) handle.stop(signal);
    return;
  }
  if (signal === first.signal && now - first.at < SAME_SIGNAL_WINDOW_MS) return;
  // Quit at once, but first let every handle save what it holds (synchronously: nothing else runs).
  for (const handle of [...active]) handle.runQuitHooks(signal);
  writeStderr(`tokbench: ${describeSignal(signal)} again: quitting at once\n`);
  process.exit(signalExitCode(signal));
}

const handlers = Object.fromEntries(STOP_SIGNALS.map((s) => [s, () => onSignal(s)])) as Record<
  StopSignalName,
  () => void
>;

function writeStderr(text: string): void {
  try {
    process.stderr.write(text);
  } catch {
    // A terminal that is gone must not stop the clean stop.
  }
}

/**
 * After SIGHUP the terminal may be gone: a write to it then fails with EIO or EPIPE, and an
 * unhandled stream error would kill the process before it stored the run. Such errors are
 * dropped from now on; the database and files are what matter.
 */
function quietStdio(): void {
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
}

/**
 * How a long CLI command (bench, and any command that runs work for a while) hears SIGINT, SIGTERM
 * and SIGHUP. All three mean the same: the first one aborts {@link signal}, so the work stops
 * cleanly (finished requests kept, the run marked `interrupted`, its summary stored and printed,
 * child processes stopped); a second one runs the quit hooks (save what is still only in memory,
 * stop child processes) and exits at once. The exit code is 128 + the signal's number (130 for
 * SIGINT, 143 for SIGTERM, 129 for SIGHUP), after a clean stop as after a quit; see
 * {@link exitCode}.
 *
 * Handles nest: a sweep listens for the whole sweep and each run inside it listens for itself; one
 * signal reaches every open handle. While no handle is open, the signals have their default
 * effect. Only the CLI uses this: the library takes an `AbortSignal`.
 */
export class StopSignals {
  /**
   * For a handle that covers a setup (work before a run starts: checks, a model's creation), what
   * a stop then means, appended to "stopped by SIGTERM"; null for a run's handle.
   */
  readonly setup: string | null;
  private started: boolean;
  private readonly controller = new AbortController();
  private readonly quitHooks = new Set<(signal: StopSignalName) => void>();
  private stoppedBy: StopSignalName | null = null;
  private closed = false;

  private constructor(setup: string | null, started: boolean) {
    this.setup = setup;
    this.started = started;
  }

  /**
   * Starts listening; call {@link close} when the command's work is over. With `setup` (what a stop
   * means then, e.g. "before the run started: nothing was measured"), the handle covers work before
   * a run: while it is the innermost open handle, the first signal prints nothing, and the command
   * ends with its error ({@link throwIfStopped}, {@link untilStopped}), one line, exit 128 + n.
   */
  static listen(options: { setup?: string; quietUntilStarted?: boolean } = {}): StopSignals {
    const handle = new StopSignals(options.setup ?? null, options.quietUntilStarted !== true);
    active.add(handle);
    if (!listening) {
      listening = true;
      first = null;
      for (const signal of STOP_SIGNALS) process.on(signal, handlers[signal]);
    }
    return handle;
  }

  /**
   * Aborted on the first stop signal; its `reason` is a `RUN_INTERRUPTED` TokbenchError whose
   * message says which signal ("stopped by SIGTERM").
   */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The signal that stopped the work, or null. */
  get received(): StopSignalName | null {
    return this.stoppedBy;
  }

  /** `code` when no stop signal came, else 128 + the signal's number. */
  exitCode(code: number): number {
    return this.stoppedBy === null ? code : signalExitCode(this.stoppedBy);
  }

  /**
   * Adds a hook run, synchronously, when a second signal quits at once: save what is only in
   * memory, stop child processes. It must not wait for anything. Returns a function that removes it.
   */
  onQuit(hook: (signal: StopSignalName) => void): () => void {
    this.quitHooks.add(hook);
    return () => this.quitHooks.delete(hook);
  }

  /** Stops listening. The last open handle removes the process listeners. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    active.delete(this);
    if (active.size === 0 && listening) {
      listening = false;
      for (const signal of STOP_SIGNALS) process.off(signal, handlers[signal]);
    }
  }

  /**
   * Whether the run is under way. A run's handle opened with `quietUntilStarted` prints nothing on
   * a first signal before {@link runStarts}: the work before the run (creating a model, probing the
   * bandwidth) stops at once and says so in its own one-line error.
   */
  get runStarted(): boolean {
    return this.started;
  }

  /** The run is under way: a first signal now says "stopping cleanly", since stopping takes a moment. */
  runStarts(): void {
    this.started = true;
  }

  /** Throws the stop's reason (a `RUN_INTERRUPTED` TokbenchError) once a stop signal came. */
  throwIfStopped(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
  }

  /**
   * `work`, or the stop's reason as soon as a stop signal comes: a setup step that cannot be
   * stopped itself (a connection check, a library loading) is left behind, since the command ends.
   */
  untilStopped<T>(work: Promise<T>): Promise<T> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(
        (value) => {
          signal.removeEventListener("abort", onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener("abort", onAbort);
          reject(error);
        },
      );
    });
  }

  /** @internal */
  stop(signal: StopSignalName): void {
    if (this.controller.signal.aborted) return;
    this.stoppedBy ??= signal;
    const message = this.setup === null ? stopMessage(signal) : `${stopMessage(signal)} ${this.setup}`;
    this.controller.abort(new TokbenchError("RUN_INTERRUPTED", message, { context: { signal } }));
  }

  /** @internal */
  runQuitHooks(signal: StopSignalName): void {
    for (const hook of this.quitHooks) {
      try {
        hook(signal);
      } catch (error) {
        writeStderr(`tokbench: while quitting: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }
}
