import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { freemem } from "node:os";

/** Memory a new process could use now. */
export interface AvailableMemory {
  /** RAM: Linux's `MemAvailable` (free plus reclaimable page cache), else the OS's free memory. */
  ram_bytes: number;
  /** Free memory per NVIDIA GPU, from nvidia-smi; empty when there is none or it cannot be asked. */
  gpu_free_bytes: number[];
}

/** `MemAvailable` of a /proc/meminfo text, in bytes; null when absent. */
export function parseMemAvailable(meminfo: string): number | null {
  const match = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
  return match === null ? null : Number(match[1]) * 1024;
}

function nvidiaFreeBytes(timeoutMs: number): Promise<number[]> {
  return new Promise((resolve) => {
    execFile(
      "nvidia-smi",
      ["--query-gpu=memory.free", "--format=csv,noheader,nounits"],
      { timeout: timeoutMs },
      (error, stdout) => {
        if (error) return resolve([]);
        resolve(
          stdout
            .split("\n")
            .map((line) => Number(line.trim()))
            .filter((mib) => Number.isFinite(mib) && mib > 0)
            .map((mib) => mib * 2 ** 20),
        );
      },
    );
  });
}

/**
 * Memory available for a server about to be launched: RAM (Linux `MemAvailable`, which counts
 * the page cache the kernel would give back, else `os.freemem()`), and free GPU memory when
 * `gpus` is asked (nvidia-smi; none elsewhere).
 */
export async function availableMemory(
  options: { gpus?: boolean; timeoutMs?: number } = {},
): Promise<AvailableMemory> {
  const meminfo = await readFile("/proc/meminfo", "utf8").catch(() => null);
  const ram = (meminfo === null ? null : parseMemAvailable(meminfo)) ?? freemem();
  const gpu = options.gpus === true ? await nvidiaFreeBytes(options.timeoutMs ?? 3000) : [];
  return { ram_bytes: ram, gpu_free_bytes: gpu };
}
