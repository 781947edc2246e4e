/**
 * Preloaded into a child process (`node --import ./peakRssAtExit.js ...`) by the history benchmarks:
 * prints the kernel's high-water mark of its resident memory (VmHWM) on stderr as it exits.
 */
import { readFileSync } from "node:fs";

process.on("exit", () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  process.stderr.write(`PEAK-RSS-KB ${m?.[1] ?? "?"}\n`);
});
