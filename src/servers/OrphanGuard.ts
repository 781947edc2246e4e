import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Makes sure no server outlives tokbench, whatever ends tokbench.
 *
 * A server runs in its own process group (so Ctrl-C in the terminal reaches tokbench, which stops
 * the server in order, and so stopping it reaches every process it started). Three layers:
 * 1. normal paths stop the server (`ServerProcess.stop`: SIGTERM, grace, SIGKILL);
 * 2. `process.on("exit")` sends SIGTERM to groups still listed (an exception, `process.exit`);
 * 3. for a death tokbench cannot act on (SIGKILL, a crash of the runtime, the kernel's OOM killer),
 *    one guard process per tokbench process holds the read end of a pipe from tokbench. The
 *    kernel closes that pipe when tokbench dies, however it dies; the guard then sends the groups
 *    still listed SIGTERM, then SIGKILL after a grace period.
 *
 * Why not the alternatives: `PR_SET_PDEATHSIG` is Linux-only, needs native code, and reaches only
 * the direct child, not the processes a server starts (vLLM's workers, a shell in a template); a
 * sweep of stale process groups at the next start leaves the server running until then; a wrapper
 * per launch would stand between tokbench and the server and hide its exit status and signal,
 * which the failure classification needs. The guard costs one small Node process per tokbench run
 * that launches servers, and nothing per launch.
 *
 * The one gap: a SIGKILL landing between the spawn of a server and the write of its group to the
 * pipe (the same synchronous turn of the event loop) is not covered.
 */
export class OrphanGuard {
  private static instance: OrphanGuard | null = null;
  private readonly groups = new Set<number>();
  private guard: ChildProcess | null = null;
  private exitHookInstalled = false;

  private constructor(private readonly graceMs: number) {}

  /** The guard of this process (one for all launches). */
  static shared(graceMs = 5000): OrphanGuard {
    OrphanGuard.instance ??= new OrphanGuard(graceMs);
    return OrphanGuard.instance;
  }

  /** The guard process's pid, once started; null before (or when it could not be started). */
  get pid(): number | null {
    return this.guard?.pid ?? null;
  }

  /** Lists a server's process group; starts the guard process on first use. */
  add(pgid: number): void {
    this.groups.add(pgid);
    this.installExitHook();
    this.send(`+${pgid}\n`);
  }

  /** Unlists a process group that is gone. */
  remove(pgid: number): void {
    this.groups.delete(pgid);
    this.send(`-${pgid}\n`);
  }

  private send(line: string): void {
    const guard = this.ensureGuard();
    if (guard?.stdin?.writable) guard.stdin.write(line);
  }

  private ensureGuard(): ChildProcess | null {
    if (this.guard !== null && this.guard.exitCode === null && this.guard.signalCode === null)
      return this.guard;
    try {
      const script = fileURLToPath(new URL("./orphanGuardProcess.js", import.meta.url));
      const guard = spawn(process.execPath, [script, String(this.graceMs)], {
        detached: true,
        stdio: ["pipe", "ignore", "ignore"],
      });
      guard.on("error", () => {});
      guard.stdin?.on("error", () => {});
      // Neither the guard nor its pipe keeps tokbench's event loop alive.
      guard.unref();
      (guard.stdin as unknown as { unref?: () => void } | null)?.unref?.();
      this.guard = guard;
      // A guard started after groups exist (it died and is replaced) learns them again.
      for (const pgid of this.groups) guard.stdin?.write(`+${pgid}\n`);
      return guard;
    } catch {
      this.guard = null;
      return null;
    }
  }

  private installExitHook(): void {
    if (this.exitHookInstalled) return;
    this.exitHookInstalled = true;
    process.on("exit", () => {
      for (const pgid of this.groups) {
        try {
          process.kill(-pgid, "SIGTERM");
        } catch {
          // Already gone.
        }
      }
    });
  }
}
