import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";

/** Path of the compiled CLI entry point. */
export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** Result of a finished CLI process. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A CLI process still running: its child, its output so far, and its end. */
export interface StartedCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<CliRun>;
}

/** Where and with what environment the CLI runs. */
export interface CliOptions {
  /** Added to the test's own environment. */
  env?: Record<string, string>;
  /** Working directory of the child. Defaults to the test's own. */
  cwd?: string;
}

/**
 * Starts `tokbench` in a child process, as a user would, for tests that watch its output or
 * signal it while it runs.
 */
export function startCli(args: string[], options: CliOptions = {}): StartedCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...options.env },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const done = new Promise<CliRun>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Runs `tokbench` in a child process, as a user would. `onStart` gets the child, for tests that signal it. */
export function runCli(
  args: string[],
  options: CliOptions & { onStart?: (child: ChildProcess) => void } = {},
): Promise<CliRun> {
  const { onStart, ...rest } = options;
  const started = startCli(args, rest);
  onStart?.(started.child);
  return started.done;
}

/** `bench --url <url> --model m` followed by `extra`: the start of most server runs in tests. */
export function benchArgs(url: string, ...extra: string[]): string[] {
  return ["bench", "--url", url, "--model", "m", ...extra];
}

/** Arguments of a `bench` run against the mock server at `url`, stored in `db`: no warmup, no progress bar. */
export function mockBenchArgs(
  url: string,
  db: string,
  o: { requests: number; concurrency: number; maxTokens: number; promptTokens?: number },
): string[] {
  return benchArgs(url, "-n", String(o.requests), "-c", String(o.concurrency), "--warmup", "0").concat([
    "--max-tokens",
    String(o.maxTokens),
    "--prompt-tokens",
    String(o.promptTokens ?? 16),
    "--db",
    db,
    "--no-progress",
  ]);
}

/** Polls `condition` every 20 ms; fails the test after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Requests stored in the database at `db` so far, read without a write lock (WAL readers never wait). */
export function storedRequests(db: string): number {
  if (!existsSync(db)) return 0;
  const sqlite = new Database(db, { readonly: true, timeout: 1000 });
  try {
    return sqlite.prepare("SELECT COUNT(*) FROM requests").pluck().get() as number;
  } catch {
    return 0;
  } finally {
    sqlite.close();
  }
}

/** True while `pid` is a live process (a zombie no container init reaps counts as dead). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
