import { readFileSync } from "node:fs";

/** Reads a file, or null when it cannot be read. */
function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** The `oom_kill N` counter of a `memory.events` (cgroup v2) or `memory.oom_control` (v1) text. */
export function parseOomKillCounter(text: string): number | null {
  const match = /^oom_kill (\d+)$/m.exec(text);
  return match === null ? null : Number(match[1]);
}

/**
 * How many processes the kernel's OOM killer has killed in this process's memory cgroup (children
 * inherit the cgroup), from cgroup v2's `memory.events` or v1's `memory.oom_control`; null where
 * neither can be read (macOS, containers that hide them). Read before and after a server runs: a
 * rise while it was killed by SIGKILL means the OOM killer chose it.
 */
export function oomKillCount(root = "/sys/fs/cgroup"): number | null {
  const cgroups = readOrNull("/proc/self/cgroup");
  if (cgroups === null) return null;
  for (const line of cgroups.split("\n")) {
    const [, controllers, path] = line.split(":");
    if (path === undefined) continue;
    const file =
      controllers === ""
        ? `${root}${path === "/" ? "" : path}/memory.events`
        : controllers?.split(",").includes("memory")
          ? `${root}/memory${path === "/" ? "" : path}/memory.oom_control`
          : null;
    if (file === null) continue;
    const text = readOrNull(file);
    const count = text === null ? null : parseOomKillCounter(text);
    if (count !== null) return count;
  }
  return null;
}
