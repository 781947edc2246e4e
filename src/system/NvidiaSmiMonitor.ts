import { type ChildProcess, spawn } from "node:child_process";
import { mean } from "../stats/descriptive.js";

/** One GPU reading at one instant. */
export interface GpuReading {
  /** The sampled process's GPU memory when nvidia-smi lists it, else null. */
  process_memory_bytes: number | null;
  /** Memory in use on all GPUs (all processes). */
  device_memory_bytes: number;
  /** Mean utilization of the GPUs the process uses (all GPUs when it uses none visibly), in %. */
  utilization_percent: number | null;
}

interface GpuState {
  uuid: string;
  memory_bytes: number;
  utilization_percent: number | null;
  at: number;
}

interface AppState {
  memory_bytes: number;
  at: number;
}

const MIB = 1024 * 1024;

function finiteOrNull(text: string | undefined): number | null {
  if (text === undefined || text.trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/**
 * Follows NVIDIA GPUs with two long-running `nvidia-smi ... --loop-ms=<interval>` children (one for
 * device memory and utilization, one for per-process memory) instead of one `nvidia-smi` per
 * sample: starting nvidia-smi costs tens of milliseconds of CPU, which would itself disturb the
 * benchmark. It keeps the latest line per GPU and per process; {@link read} combines the fresh ones.
 * Where nvidia-smi is missing or fails, it stays silent and {@link read} returns null.
 */
export class NvidiaSmiMonitor {
  private readonly children: ChildProcess[] = [];
  private readonly gpus = new Map<string, GpuState>();
  private readonly apps = new Map<string, AppState>();

  /**
   * @param pid process whose own GPU memory is tracked.
   * @param intervalMs nvidia-smi's loop period.
   * @param nvidiaSmi the executable.
   */
  constructor(
    private readonly pid: number,
    private readonly intervalMs: number,
    private readonly nvidiaSmi: string,
  ) {}

  /** Starts the nvidia-smi children. Never throws: a missing tool only means no GPU figures. */
  start(): void {
    const loop = ["--format=csv,noheader,nounits", `--loop-ms=${Math.max(50, Math.round(this.intervalMs))}`];
    this.follow(["--query-gpu=index,uuid,memory.used,utilization.gpu", ...loop], (fields, at) => {
      const [index, uuid, memory, utilization] = fields;
      const mib = finiteOrNull(memory);
      if (index === undefined || uuid === undefined || mib === null) return;
      this.gpus.set(index, {
        uuid,
        memory_bytes: mib * MIB,
        utilization_percent: finiteOrNull(utilization),
        at,
      });
    });
    this.follow(["--query-compute-apps=gpu_uuid,pid,used_memory", ...loop], (fields, at) => {
      const [uuid, pid, memory] = fields;
      const mib = finiteOrNull(memory);
      if (uuid === undefined || Number(pid) !== this.pid || mib === null) return;
      this.apps.set(uuid, { memory_bytes: mib * MIB, at });
    });
  }

  /**
   * The current reading, from lines no older than `maxAgeMs` (so a GPU or process that stopped
   * reporting drops out), or null when no GPU line is fresh.
   */
  read(now: number, maxAgeMs: number): GpuReading | null {
    const gpus = [...this.gpus.values()].filter((gpu) => now - gpu.at <= maxAgeMs);
    if (gpus.length === 0) return null;
    const apps = [...this.apps.entries()].filter(([, app]) => now - app.at <= maxAgeMs);
    const used = new Set(apps.map(([uuid]) => uuid));
    const utilizationOf = gpus.filter((gpu) => used.size === 0 || used.has(gpu.uuid));
    const utilizations = utilizationOf
      .map((gpu) => gpu.utilization_percent)
      .filter((value): value is number => value !== null);
    return {
      process_memory_bytes:
        apps.length === 0 ? null : apps.reduce((sum, [, app]) => sum + app.memory_bytes, 0),
      device_memory_bytes: gpus.reduce((sum, gpu) => sum + gpu.memory_bytes, 0),
      utilization_percent: utilizations.length === 0 ? null : mean(utilizations),
    };
  }

  /** Stops the children. */
  stop(): void {
    for (const child of this.children) {
      child.stdout?.removeAllListeners("data");
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
    this.children.length = 0;
  }

  private follow(args: string[], onLine: (fields: string[], at: number) => void): void {
    let child: ChildProcess;
    try {
      child = spawn(this.nvidiaSmi, args, { stdio: ["ignore", "pipe", "ignore"], windowsHide: true });
    } catch {
      return;
    }
    // A missing executable arrives as an 'error' event; without a listener it would throw.
    child.on("error", () => {});
    // Neither the child nor its pipe may keep tokbench alive; an orphaned nvidia-smi dies of
    // SIGPIPE at its next write once tokbench has exited.
    child.unref();
    const stdout = child.stdout as (NodeJS.ReadableStream & { unref?: () => void }) | null;
    stdout?.unref?.();
    let pending = "";
    stdout?.setEncoding("utf8");
    stdout?.on("data", (data: string) => {
      const at = performance.now();
      pending += data;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line.trim() !== "")
          onLine(
            line.split(",").map((field) => field.trim()),
            at,
          );
      }
    });
    this.children.push(child);
  }
}
