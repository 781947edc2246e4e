import type { RunResult } from "../../results/RunResult.js";
import { formatBytes } from "../units.js";

/**
 * One line on what the measured process used during the run (`resources`): peak RSS, mean CPU and
 * disk read, plus GPU memory when sampled. `self` is tokbench's own process, which is where the
 * embedded engine runs. Empty when nothing was sampled (a server run without `--pid`). Fits 100
 * columns.
 */
export function renderResources(result: RunResult): string {
  const r = result.resources;
  if (r === null || r.samples === 0) return "";
  // "self": the engine runs inside tokbench, so tokbench's own process is the measured one.
  const who = r.process === "self" ? "tokbench's process" : `process ${r.process}`;
  const parts = [
    `peak RSS ${formatBytes(r.peak_rss_bytes)}`,
    `mean CPU ${r.cpu_percent.mean === null ? "-" : `${Math.round(r.cpu_percent.mean)} %`} of a core`,
    `disk read ${formatBytes(r.disk_read_bytes)}`,
  ];
  if (r.gpu_memory_bytes !== null && r.gpu_memory_bytes.count > 0) {
    parts.push(`GPU memory ${formatBytes(r.gpu_memory_bytes.max)} peak (${r.gpu_memory_scope ?? "?"})`);
  }
  return `sampled ${who}: ${parts.join(", ")}`;
}
