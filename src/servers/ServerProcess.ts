import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { TokbenchError } from "../errors/TokbenchError.js";
import { oomKillCount } from "../system/oomKillCount.js";
import { classifyFailure } from "./classifyFailure.js";
import type { LaunchFailure, ServerExit } from "./LaunchFailure.js";
import { OrphanGuard } from "./OrphanGuard.js";
import { isPortFree, waitForPortFree } from "./ports.js";

/** Everything needed to start one server process. */
export interface ServerLaunch {
  /** Program and arguments; nothing goes through a shell. */
  argv: readonly string[];
  /** Added to tokbench's environment. Defaults to none. */
  env?: Readonly<Record<string, string>>;
  /** Where the server listens. */
  host: string;
  port: number;
  /** Path answered with 200 once the server can serve (`/health`, `/v1/models`, `/api/tags`). */
  ready_path: string;
  /** File that receives the server's stdout and stderr (created or truncated). */
  log_path: string;
  /** How long the server may take to become ready, in milliseconds. Defaults to 300000. */
  ready_timeout_ms?: number;
  /** Time between SIGTERM and SIGKILL when stopping, in milliseconds. Defaults to 10000. */
  stop_grace_ms?: number;
  /**
   * Limit on the server's virtual address space in bytes (`ulimit -v`, through `/bin/sh`), so a
   * configuration that needs more memory fails with a real allocation failure. Not for GPU
   * servers (CUDA reserves far more address space than it uses). Defaults to none.
   */
  memory_limit_bytes?: number | null;
}

/** Thrown by {@link ServerProcess.start} when the server did not become ready. */
export class ServerLaunchError extends TokbenchError {
  readonly failure: LaunchFailure;
  constructor(failure: LaunchFailure) {
    super("SERVER_LAUNCH_FAILED", `server failed to start (${failure.class}): ${failure.message}`, {
      context: { failure: failure.class, log: failure.log_path },
    });
    this.failure = failure;
  }
}

/** Last bytes of a file (the end of a log is what explains a failure). */
function readTail(path: string, bytes: number): string {
  try {
    const size = statSync(path).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    const fd = openSync(path, "r");
    try {
      readSync(fd, buffer, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    return buffer.toString("utf8");
  } catch {
    return "";
  }
}

/** GET `url` with a short timeout; resolves with the status, or null when nothing answered. */
function probe(host: string, port: number, path: string, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: "GET", timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? null);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
    req.end();
  });
}

/**
 * One server process of a sweep, from launch to stop:
 * - started in its own process group (a new session), stdout and stderr into a log file;
 * - ready when `ready_path` answers 200, within a timeout; a process that exits while starting
 *   is noticed at once and its failure classified from its exit and log;
 * - stopped with SIGTERM to the whole group, SIGKILL after the grace period, then waited on until
 *   its port can be bound again;
 * - never two at once in a tokbench process: starting a second while one lives is refused;
 * - listed with the {@link OrphanGuard}, so it does not outlive tokbench.
 */
export class ServerProcess {
  private static live: ServerProcess | null = null;
  /** How the process ended; null while it runs. */
  exit: ServerExit | null = null;
  private stopping = false;
  private readonly exited: Promise<ServerExit>;
  private readonly oomKillsAtStart: number | null;
  private stopPromise: Promise<ServerExit> | null = null;

  private constructor(
    readonly launch: ServerLaunch,
    child: ChildProcess,
    /** The server's process id, also its process group id. */
    readonly pid: number,
  ) {
    this.oomKillsAtStart = oomKillCount();
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exit = { code, signal, stopped_by_tokbench: this.stopping };
        resolve(this.exit);
      });
    });
  }

  /** The server's base URL, e.g. `http://127.0.0.1:8080`. */
  get url(): string {
    const host = this.launch.host.includes(":") ? `[${this.launch.host}]` : this.launch.host;
    return `http://${host}:${this.launch.port}`;
  }

  /** The server still runs (it has not exited). */
  get running(): boolean {
    return this.exit === null;
  }

  /**
   * Starts the server and resolves once it is ready.
   * @throws ServerLaunchError (`SERVER_LAUNCH_FAILED`) with the classified failure: the port was
   *   taken, the program could not be run, it exited while starting, or it was not ready in time
   *   (then it is stopped first).
   * @throws TokbenchError `RUN_INTERRUPTED` when `signal` aborts the start (the server is stopped).
   */
  static async start(launch: ServerLaunch, options: { signal?: AbortSignal } = {}): Promise<ServerProcess> {
    if (ServerProcess.live !== null) {
      throw new TokbenchError(
        "INTERNAL",
        `a server (pid ${ServerProcess.live.pid}) is still running: tokbench runs one server at a time`,
      );
    }
    if (!(await isPortFree(launch.host, launch.port))) {
      throw new ServerLaunchError({
        class: "port_in_use",
        message: `port ${launch.port} on ${launch.host} is already in use`,
        exit: null,
        log_tail: [],
        log_path: null,
      });
    }
    const argv = ServerProcess.argvWithLimit(launch);
    const log = openSync(launch.log_path, "w");
    let child: ChildProcess;
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, ...launch.env };
      // Under an address-space limit, glibc's per-thread malloc arenas (64 MiB of address space
      // each, mostly never touched) would make the limit depend on the thread count, not memory.
      if (launch.memory_limit_bytes != null && env.MALLOC_ARENA_MAX === undefined) env.MALLOC_ARENA_MAX = "2";
      child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ["ignore", log, log], env });
    } finally {
      closeSync(log);
    }
    const spawnError = await new Promise<Error | null>((resolve) => {
      child.once("spawn", () => resolve(null));
      child.once("error", (error) => resolve(error));
    });
    if (spawnError !== null || child.pid === undefined) {
      throw new ServerLaunchError(
        classifyFailure({
          exit: null,
          log: "",
          stage: "start",
          spawn_error: `cannot run ${JSON.stringify(argv[0])}: ${spawnError?.message ?? "no pid"}`,
          log_path: launch.log_path,
        }),
      );
    }
    const server = new ServerProcess(launch, child, child.pid);
    OrphanGuard.shared(launch.stop_grace_ms ?? 10_000).add(child.pid);
    ServerProcess.live = server;
    await server.waitReady(options.signal);
    return server;
  }

  private static argvWithLimit(launch: ServerLaunch): string[] {
    const limit = launch.memory_limit_bytes;
    if (limit === undefined || limit === null) return [...launch.argv];
    const kib = Math.max(1, Math.floor(limit / 1024));
    // `exec` keeps the pid, so the server itself is the group leader tokbench watches.
    return ["/bin/sh", "-c", `ulimit -v ${kib} && exec "$@"`, "tokbench-server", ...launch.argv];
  }

  private async waitReady(signal: AbortSignal | undefined): Promise<void> {
    const { host, port, ready_path } = this.launch;
    const deadline = performance.now() + (this.launch.ready_timeout_ms ?? 300_000);
    let delay = 50;
    for (;;) {
      if (this.exit !== null) {
        const failure = this.failure("start");
        await this.stop();
        throw new ServerLaunchError(failure);
      }
      if (signal?.aborted) {
        await this.stop();
        throw new TokbenchError("RUN_INTERRUPTED", "interrupted while the server was starting");
      }
      const status = await probe(host, port, ready_path, 2000);
      if (status === 200 && this.exit === null) return;
      if (performance.now() >= deadline) {
        const failure = classifyFailure({
          exit: null,
          log: this.readLog(),
          stage: "start",
          timed_out: true,
          log_path: this.launch.log_path,
        });
        await this.stop();
        throw new ServerLaunchError(
          failure.class === "ready_timeout" ? failure : { ...failure, exit: this.exit },
        );
      }
      const timer = new AbortController();
      await Promise.race([sleep(delay, null, { signal: timer.signal }).catch(() => null), this.exited]);
      timer.abort();
      delay = Math.min(250, delay * 2);
    }
  }

  /** The last 64 KiB of the server's log. */
  readLog(): string {
    return readTail(this.launch.log_path, 64 * 1024);
  }

  /** The classified failure of a server that exited on its own; null while it runs or after a requested stop. */
  failure(stage: "start" | "serve" = "serve"): LaunchFailure {
    const kills = oomKillCount();
    return classifyFailure({
      exit: this.exit,
      log: this.readLog(),
      stage,
      oom_kills: kills === null || this.oomKillsAtStart === null ? null : kills - this.oomKillsAtStart,
      log_path: this.launch.log_path,
    });
  }

  /** Resolves when the process exits on its own or is stopped. */
  whenExited(): Promise<ServerExit> {
    return this.exited;
  }

  /**
   * Stops the server: SIGTERM to its process group, SIGKILL to the group after the grace period,
   * SIGKILL to what is left of the group once the leader is gone (helpers it started), then waits
   * until the port is free. Idempotent.
   */
  stop(): Promise<ServerExit> {
    this.stopPromise ??= this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<ServerExit> {
    const grace = this.launch.stop_grace_ms ?? 10_000;
    if (this.exit === null) {
      this.stopping = true;
      this.signalGroup("SIGTERM");
      // The grace timer is cancelled once the server exits, so it never holds tokbench open.
      const timer = new AbortController();
      const ended = await Promise.race([
        this.exited,
        sleep(grace, null, { signal: timer.signal }).catch(() => null),
      ]);
      timer.abort();
      if (ended === null) this.signalGroup("SIGKILL");
    }
    const exit = await this.exited;
    // Processes the server started may outlive it in its group.
    this.signalGroup("SIGKILL");
    OrphanGuard.shared().remove(this.pid);
    if (ServerProcess.live === this) ServerProcess.live = null;
    await waitForPortFree(this.launch.host, this.launch.port, Math.max(grace, 5000));
    return exit;
  }

  private signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is gone.
    }
  }
}
