import { sanitizeText } from "../text/sanitizeText.js";
import type { FailureClass, LaunchFailure, ServerExit } from "./LaunchFailure.js";

/** Out-of-memory lines of the servers tokbench launches (case-insensitive). */
const OOM_PATTERNS: readonly RegExp[] = [
  // llama.cpp / ggml (CPU, CUDA, Metal, Vulkan backends) and Ollama's runner, which is llama.cpp.
  /failed to allocate (?:\S+ )?buffer/i,
  /ggml_aligned_malloc: insufficient memory/i,
  /failed to allocate buffer for kv cache/i,
  /failed to allocate compute (?:pp |tg )?buffers/i,
  /unable to allocate \S+ buffer/i,
  /cudaMalloc failed: out of memory/i,
  /CUDA error: out of memory/i,
  /\bCUDA out of memory\b/i,
  /torch\.(?:cuda\.)?OutOfMemoryError/i,
  /\bout of memory\b.*\b(?:cuda|gpu|vram|device)\b|\b(?:cuda|gpu|vram|device)\b.*\bout of memory\b/i,
  /kIOGPUCommandBufferCallbackErrorOutOfMemory/i,
  /\[metal::malloc\] .*greater than the maximum allowed buffer size/i,
  /ggml_metal\S*: error: failed to allocate/i,
  /std::bad_alloc/,
  /MemoryError/,
  // vLLM: KV cache cannot hold the model length, or no room for cache blocks at all.
  /larger than the maximum number of tokens that can be stored in KV cache/i,
  /No available memory for the cache blocks/i,
  /Insufficient memory/i,
  // SGLang.
  /Not enough memory\. Please try to increase --mem-fraction-static/i,
  // Ollama's scheduler.
  /model requires more system memory/i,
  /memory layout cannot be allocated/i,
  /insufficient (?:system )?memory/i,
];

/** A port that was already taken. */
const PORT_PATTERNS: readonly RegExp[] = [
  /address already in use/i,
  /EADDRINUSE/,
  /couldn't bind HTTP server socket/i,
  /\[Errno 98\]/,
  /bind: address already in use/i,
];

/** The server rejected its command line. */
const BAD_ARGS_PATTERNS: readonly RegExp[] = [
  // llama.cpp's common argument parser.
  /^error: invalid argument: /im,
  /error while handling argument/i,
  /error while handling environment variable/i,
  // Python's argparse (vLLM, SGLang, mlx_lm.server): `prog: error: unrecognized arguments: ...`.
  /: error: (?:unrecognized arguments|argument \S+|the following arguments are required)/i,
  // Go's cobra (Ollama).
  /^Error: unknown (?:shorthand )?flag/im,
  /^Error: invalid argument/im,
];

/** ANSI escape sequences: CSI (`ESC [ ... m`, colours) and OSC (`ESC ] ... BEL`). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: escape sequences are what is removed
const ESCAPE_SEQUENCES = /\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g;

/**
 * A server's log line made safe for a terminal: colour and other escape sequences removed (vLLM
 * and Ollama colour their logs), then every other control character shown escaped by the one
 * sanitiser.
 */
export function cleanLogLine(line: string): string {
  return sanitizeText(line.replace(ESCAPE_SEQUENCES, ""));
}

/** The non-empty lines of a log text, cleaned, the last `count` of them. */
export function lastLogLines(text: string, count: number): string[] {
  const lines = text
    .split(/\r?\n/)
    .map((line) => cleanLogLine(line).trimEnd())
    .filter((line) => line.trim() !== "");
  return lines.slice(-count);
}

function firstMatch(lines: readonly string[], patterns: readonly RegExp[]): string | null {
  for (const line of lines) if (patterns.some((p) => p.test(line))) return line.trim();
  return null;
}

function describeExit(exit: ServerExit | null): string {
  if (exit === null) return "still running";
  if (exit.signal !== null) return `killed by ${exit.signal}`;
  return `exited with status ${exit.code}`;
}

/** What {@link classifyFailure} reads. */
export interface FailureEvidence {
  /** How the process ended; null when it is still running (a ready timeout). */
  exit: ServerExit | null;
  /** The log text (its last part is enough: 64 KiB). */
  log: string;
  /** The phase: starting (not yet ready) or serving. */
  stage: "start" | "serve";
  /** Whether the ready timeout ran out. */
  timed_out?: boolean;
  /**
   * Processes the kernel's OOM killer killed in tokbench's cgroup while the server ran (from
   * `memory.events`); null when unknown.
   */
  oom_kills?: number | null;
  log_path?: string | null;
  /** A reason known without the log, e.g. the program could not be spawned. */
  spawn_error?: string | null;
}

/**
 * Classifies a failed launch or a server that died while serving. Order matters: a port clash
 * or an out-of-memory line explains an exit whatever its status; a SIGKILL tokbench did not send is
 * the kernel's OOM killer when the cgroup counted a kill; a rejected flag is next; anything else is
 * a crash, described by its exit and the last line of its log.
 */
export function classifyFailure(evidence: FailureEvidence): LaunchFailure {
  const lines = evidence.log.split(/\r?\n/).map(cleanLogLine);
  const tail = lastLogLines(evidence.log, 12);
  const exit = evidence.exit;
  const make = (cls: FailureClass, message: string): LaunchFailure => ({
    class: cls,
    message,
    exit,
    log_tail: tail,
    log_path: evidence.log_path ?? null,
  });
  if (evidence.spawn_error) return make("bad_args", evidence.spawn_error);
  const port = firstMatch(lines, PORT_PATTERNS);
  if (port !== null) return make("port_in_use", port);
  const oom = firstMatch(lines, OOM_PATTERNS);
  if (oom !== null) return make("oom", oom);
  if (exit !== null && exit.signal === "SIGKILL" && !exit.stopped_by_tokbench) {
    if ((evidence.oom_kills ?? 0) > 0) return make("oom", "killed by the kernel's OOM killer (SIGKILL)");
    return make(
      "crash",
      "killed by SIGKILL from outside tokbench (the kernel's OOM killer does this; no OOM kill was counted in this cgroup)",
    );
  }
  const badArgs = firstMatch(lines, BAD_ARGS_PATTERNS);
  if (badArgs !== null && evidence.stage === "start") return make("bad_args", badArgs);
  if (evidence.timed_out === true && exit === null) {
    const last = tail.at(-1);
    return make(
      "ready_timeout",
      `not ready in time${last === undefined ? "" : `; last log line: ${last.trim()}`}`,
    );
  }
  const last = tail.at(-1);
  return make("crash", `${describeExit(exit)}${last === undefined ? "" : `; last log line: ${last.trim()}`}`);
}
