import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./fixtures/holdWriteLock.js", import.meta.url));

/** A child process holding a database's write lock. */
export interface LockHolder {
  child: ChildProcess;
  /** `performance.now()` when it reported holding the lock. */
  lockedAt: number;
  /** Resolves with `performance.now()` when it reported releasing it. */
  released: Promise<number>;
  /** Ends the child (and so its lock) now. */
  kill(): void;
}

/** Starts a process that takes the write lock of `path` and holds it for `ms`; resolves once it holds it. */
export function holdWriteLock(path: string, ms: number): Promise<LockHolder> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, path, String(ms)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let lockedAt = 0;
    let releasedResolve: (at: number) => void = () => {};
    const released = new Promise<number>((r) => {
      releasedResolve = r;
    });
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (text: string) => {
      out += text;
      if (lockedAt === 0 && out.includes("locked\n")) {
        lockedAt = performance.now();
        resolve({ child, lockedAt, released, kill: () => child.kill("SIGKILL") });
      }
      if (out.includes("released\n")) releasedResolve(performance.now());
    });
    child.on("exit", () => {
      releasedResolve(performance.now());
      if (lockedAt === 0) reject(new Error(`lock holder exited before locking: ${out}`));
    });
  });
}
