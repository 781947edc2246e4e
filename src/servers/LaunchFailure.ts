/**
 * Why a server did not start or stopped serving, from its exit status, the signal that ended it
 * and its log:
 * - `oom`: out of memory (an allocation failure in the log of llama.cpp, CUDA, Metal, vLLM, SGLang,
 *   Ollama or MLX, or a kill by the kernel's OOM killer);
 * - `crash`: it died for another reason (the last lines of its log say more);
 * - `ready_timeout`: still not ready when the launch timeout ran out (it is stopped);
 * - `bad_args`: it rejected its command line, or the program could not be run;
 * - `port_in_use`: the port it was given was taken.
 */
export type FailureClass = "oom" | "crash" | "ready_timeout" | "bad_args" | "port_in_use";

/** Every failure class, in the order docs list them. */
export const FAILURE_CLASSES: readonly FailureClass[] = [
  "oom",
  "crash",
  "ready_timeout",
  "bad_args",
  "port_in_use",
];

/** How a server process ended. */
export interface ServerExit {
  /** Exit status; null when a signal ended it. */
  code: number | null;
  /** Signal that ended it; null when it exited. */
  signal: NodeJS.Signals | null;
  /** Whether tokbench asked it to stop (a stop is not a failure). */
  stopped_by_tokbench: boolean;
}

/** A classified failure of a server. */
export interface LaunchFailure {
  class: FailureClass;
  /** One line: the log line that decided the class, or the exit status and the last log line. */
  message: string;
  /** When the process had ended: how. Null for a ready timeout of a process that was still running. */
  exit: ServerExit | null;
  /** The last lines of the server's log (control characters escaped). */
  log_tail: string[];
  /** The log file of the launch, when there is one. */
  log_path: string | null;
}
