import { spawn } from "node:child_process";

/**
 * Environment a process running the embedded engine should START with (see docs/engine-speed.md).
 *
 * `UV_THREADPOOL_SIZE=1`: node-llama-cpp runs every `llama_decode` as a libuv work item, and libuv
 * hands each item to whichever of its (default 4) pool threads wakes first. With an OpenMP build each
 * of those threads becomes the master of its own OpenMP team, so successive tokens run on different
 * teams whose idle workers keep spinning on the same cores; one pool thread means one team, as in
 * llama-bench. libuv reads the variable once, when the pool starts, which happens while Node loads
 * the entry module: setting it from JavaScript is too late, hence a relaunch.
 */
export const ENGINE_PROCESS_ENV: Readonly<Record<string, string>> = Object.freeze({
  UV_THREADPOOL_SIZE: "1",
});

/** Marker set in the relaunched child so that it never relaunches again. */
const RELAUNCHED_MARKER = "TOKBENCH_ENGINE_ENV";

/**
 * True when `env` already carries {@link ENGINE_PROCESS_ENV} (or the user chose their own
 * `UV_THREADPOOL_SIZE`, which is respected), so no relaunch is needed.
 */
export function isEngineEnvApplied(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[RELAUNCHED_MARKER] === "1" || env.UV_THREADPOOL_SIZE !== undefined;
}

/**
 * Runs the current Node command again as a child process with {@link ENGINE_PROCESS_ENV} added,
 * with the same arguments, inherited stdio, and signals forwarded; resolves with the child's exit
 * code (128 + signal number when it was killed). Call it first thing in a CLI command that will use
 * the embedded engine, when {@link isEngineEnvApplied} is false, and exit with the returned code.
 */
export function relaunchWithEngineEnv(
  argv: readonly string[] = process.argv,
  execArgv: readonly string[] = process.execArgv,
): Promise<number> {
  const [, script, ...rest] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...execArgv, script ?? "", ...rest], {
      stdio: "inherit",
      env: { ...process.env, ...ENGINE_PROCESS_ENV, [RELAUNCHED_MARKER]: "1" },
    });
    // Every stop signal goes to the child, which stops cleanly on the first and quits on a second
    // (a signal the terminal sent to the whole process group arrives twice; the child counts it once).
    const forwarded = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((signal) => {
      const forward = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      };
      process.on(signal, forward);
      return [signal, forward] as const;
    });
    const cleanup = () => {
      for (const [signal, forward] of forwarded) process.off(signal, forward);
    };
    child.on("error", (error) => {
      cleanup();
      reject(error);
    });
    child.on("exit", (code, signal) => {
      cleanup();
      const signals: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
      resolve(code ?? 128 + (signal ? (signals[signal] ?? 1) : 1));
    });
  });
}
