import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Path of the compiled CLI entry point. */
export const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** Result of a finished CLI process. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tokbench` in a child process, as a user would. `onStart` gets the child, for tests that
 * signal it. The environment is the test's own plus `env`; the working directory is `cwd` when given.
 */
export function runCli(
  args: string[],
  options: {
    env?: Record<string, string>;
    /** Working directory of the child. Defaults to the test's own. */
    cwd?: string;
    onStart?: (child: ReturnType<typeof spawn>) => void;
  } = {},
): Promise<CliRun> {
  return new Promise((resolve) => {
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
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
    options.onStart?.(child);
  });
}

/** `bench --url <url> --model m` followed by `extra`: the start of most server runs in tests. */
export function benchArgs(url: string, ...extra: string[]): string[] {
  return ["bench", "--url", url, "--model", "m", ...extra];
}
