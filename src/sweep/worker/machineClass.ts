import { createHash } from "node:crypto";
import type { MachineInfo } from "../../results/MachineInfo.js";

const GIB = 1024 ** 3;

/**
 * The class of a machine, for deciding which machines may measure the cells of one sweep: the
 * hardware that decides the figures (OS, architecture, CPU model and cores, memory to the GiB, GPU
 * models and memory to the GiB), without what differs between identical nodes (host name, kernel
 * release, Node.js, GPU driver, a few MiB of memory the kernel keeps). Machines of one class give
 * comparable figures; its text is `mc-` and 16 hex digits of a sha256.
 */
export function machineClass(machine: MachineInfo): string {
  const hardware = {
    os: machine.os,
    arch: machine.arch,
    cpu_model: machine.cpu_model,
    cpu_cores: machine.cpu_cores,
    memory_gib: Math.round(machine.total_memory_bytes / GIB),
    gpus: machine.gpus.map((gpu) => ({
      name: gpu.name,
      memory_gib: gpu.memory_total_bytes === null ? null : Math.round(gpu.memory_total_bytes / GIB),
    })),
  };
  return `mc-${createHash("sha256").update(JSON.stringify(hardware)).digest("hex").slice(0, 16)}`;
}
