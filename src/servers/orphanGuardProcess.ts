/**
 * The orphan guard: a small process, in its own process group, that outlives tokbench by design.
 * tokbench writes `+PGID` when it starts a server's process group and `-PGID` when that group is
 * gone, on this process's stdin. When stdin ends while groups are still listed (tokbench exited
 * without stopping them: SIGKILL, a crash, the OOM killer), it sends each group SIGTERM, then
 * SIGKILL after the grace period, and exits. It ignores the terminal's signals, which are
 * tokbench's to act on. Started by `OrphanGuard`; argv[2] is the grace period in milliseconds.
 */
const graceMs = Number(process.argv[2] ?? 5000);
const groups = new Set<number>();
let pending = "";

for (const signal of ["SIGINT", "SIGHUP", "SIGQUIT"] as const) process.on(signal, () => {});

function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

process.stdin.setEncoding("utf8");
process.stdin.on("data", (text: string) => {
  pending += text;
  let newline = pending.indexOf("\n");
  while (newline !== -1) {
    const line = pending.slice(0, newline).trim();
    pending = pending.slice(newline + 1);
    const pgid = Number(line.slice(1));
    if (Number.isSafeInteger(pgid) && pgid > 1) {
      if (line.startsWith("+")) groups.add(pgid);
      else if (line.startsWith("-")) groups.delete(pgid);
    }
    newline = pending.indexOf("\n");
  }
});

function cleanUp(): void {
  const alive = [...groups].filter((pgid) => signalGroup(pgid, "SIGTERM"));
  if (alive.length === 0) process.exit(0);
  setTimeout(() => {
    for (const pgid of alive) signalGroup(pgid, "SIGKILL");
    process.exit(0);
  }, graceMs);
}
process.stdin.on("end", cleanUp);
process.stdin.on("error", cleanUp);
