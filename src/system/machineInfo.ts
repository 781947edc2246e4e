import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import os from "node:os";
import type { GpuInfo, MachineInfo } from "../results/MachineInfo.js";

/** Options of {@link collectMachineInfo}. */
export interface CollectMachineInfoOptions {
  /** Engine name and version, e.g. `node-llama-cpp 3.22.1`, when the run uses one. Defaults to null. */
  engine?: string | null;
  /** llama.cpp build (release tag or commit), when known. Defaults to null. */
  llamaCppVersion?: string | null;
  /** The `nvidia-smi` executable to query for NVIDIA GPUs. Defaults to `nvidia-smi` (looked up in PATH). */
  nvidiaSmi?: string;
  /** Milliseconds to wait for each external tool before giving up on it. Defaults to 5000. */
  toolTimeoutMs?: number;
}

/** Runs a tool and returns its stdout, or null when it is missing, fails or hangs: machine info never throws for that. */
function tryRun(file: string, args: readonly string[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    try {
      execFile(file, args, { timeout: timeoutMs, encoding: "utf8", windowsHide: true }, (error, stdout) => {
        resolve(error === null ? stdout : null);
      });
    } catch {
      resolve(null);
    }
  });
}

function nonEmpty(value: string | null | undefined): string | null {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? null : trimmed;
}

/**
 * Parses `nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader,nounits`:
 * one line per GPU, memory in MiB.
 */
export function parseNvidiaSmiGpus(csv: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of csv.split("\n")) {
    if (line.trim() === "") continue;
    const fields = line.split(",").map((field) => field.trim());
    // The name is first and may itself contain commas in theory: memory and driver are the last two.
    if (fields.length < 3) continue;
    const driver = fields.pop() as string;
    const memory = fields.pop() as string;
    const mib = Number(memory);
    gpus.push({
      name: fields.join(", "),
      memory_total_bytes: memory !== "" && Number.isFinite(mib) ? mib * 1024 * 1024 : null,
      driver: nonEmpty(driver) === "[N/A]" ? null : nonEmpty(driver),
    });
  }
  return gpus;
}

async function nvidiaGpus(nvidiaSmi: string, timeoutMs: number): Promise<GpuInfo[]> {
  const out = await tryRun(
    nvidiaSmi,
    ["--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
    timeoutMs,
  );
  return out === null ? [] : parseNvidiaSmiGpus(out);
}

/** Parses `system_profiler SPDisplaysDataType -json` (macOS). Apple silicon GPUs share system memory: null. */
export function parseSystemProfilerGpus(json: string): GpuInfo[] {
  try {
    const data = JSON.parse(json) as { SPDisplaysDataType?: Record<string, unknown>[] };
    return (data.SPDisplaysDataType ?? []).map((gpu) => {
      const name = typeof gpu.sppci_model === "string" ? gpu.sppci_model : String(gpu._name ?? "unknown GPU");
      const vram = typeof gpu.spdisplays_vram === "string" ? gpu.spdisplays_vram : null;
      const match = vram === null ? null : /([\d.]+)\s*(MB|GB)/i.exec(vram);
      const bytes =
        match?.[1] === undefined
          ? null
          : Number(match[1]) * (match[2]?.toUpperCase() === "GB" ? 1024 ** 3 : 1024 ** 2);
      const cores = typeof gpu.sppci_cores === "string" ? ` (${gpu.sppci_cores} cores)` : "";
      return { name: `${name}${cores}`, memory_total_bytes: bytes, driver: null };
    });
  } catch {
    return [];
  }
}

async function linuxDistribution(): Promise<string | null> {
  for (const file of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      const text = await readFile(file, "utf8");
      const match = /^PRETTY_NAME=(?:"([^"]*)"|(.*))$/m.exec(text);
      const name = nonEmpty(match?.[1] ?? match?.[2]);
      if (name !== null) return name;
    } catch {
      // Try the next location.
    }
  }
  return null;
}

async function linuxCpuModel(): Promise<string | null> {
  try {
    const text = await readFile("/proc/cpuinfo", "utf8");
    // x86 has `model name`; many ARM kernels only have `Hardware` or the device-tree model.
    const match = /^(?:model name|Hardware|cpu model|Processor)\s*:\s*(.+)$/m.exec(text);
    if (match?.[1] !== undefined) return nonEmpty(match[1]);
  } catch {
    // Fall through.
  }
  try {
    return nonEmpty((await readFile("/sys/firmware/devicetree/base/model", "utf8")).replace(/\0/g, ""));
  } catch {
    return null;
  }
}

/**
 * Describes the machine: CPU model and logical core count, total RAM, operating system, kernel,
 * architecture, Node.js version and GPUs, for storing with a run.
 *
 * - `os` is the distribution or product name (`Debian GNU/Linux 12 (bookworm)`, `macOS 14.5`),
 *   falling back to `os.type()`; `os_release` is the kernel release (`os.release()`).
 * - `cpu_cores` is the number of logical CPUs of the machine.
 * - GPUs: NVIDIA GPUs through `nvidia-smi` wherever it is installed; on macOS, `system_profiler`.
 *   No GPU or no tool gives `[]`.
 *
 * Never throws because a tool is missing or fails; takes a few milliseconds on Linux without
 * `nvidia-smi`, up to about a second where `nvidia-smi` or `system_profiler` must start.
 */
export async function collectMachineInfo(options: CollectMachineInfoOptions = {}): Promise<MachineInfo> {
  const timeoutMs = options.toolTimeoutMs ?? 5000;
  const nvidiaSmi = options.nvidiaSmi ?? "nvidia-smi";
  const platform = process.platform;
  const cpus = os.cpus();

  let osName: string | null = null;
  let cpuModel = nonEmpty(cpus[0]?.model);
  let gpus: GpuInfo[];
  if (platform === "darwin") {
    const [version, brand, nvidia, profiler] = await Promise.all([
      tryRun("sw_vers", ["-productVersion"], timeoutMs),
      cpuModel === null
        ? tryRun("sysctl", ["-n", "machdep.cpu.brand_string"], timeoutMs)
        : Promise.resolve(null),
      nvidiaGpus(nvidiaSmi, timeoutMs),
      tryRun("system_profiler", ["SPDisplaysDataType", "-json"], timeoutMs),
    ]);
    osName = nonEmpty(version) === null ? null : `macOS ${nonEmpty(version)}`;
    cpuModel = cpuModel ?? nonEmpty(brand);
    gpus = nvidia.length > 0 ? nvidia : profiler === null ? [] : parseSystemProfilerGpus(profiler);
  } else {
    const [distribution, model, nvidia] = await Promise.all([
      platform === "linux" ? linuxDistribution() : Promise.resolve(null),
      platform === "linux" && cpuModel === null ? linuxCpuModel() : Promise.resolve(null),
      nvidiaGpus(nvidiaSmi, timeoutMs),
    ]);
    osName = distribution;
    cpuModel = cpuModel ?? model;
    gpus = nvidia;
  }

  return {
    hostname: os.hostname(),
    os: osName ?? `${os.type()} ${os.version?.() ?? ""}`.trim(),
    os_release: os.release(),
    arch: os.arch(),
    cpu_model: cpuModel ?? "unknown",
    cpu_cores: cpus.length > 0 ? cpus.length : os.availableParallelism(),
    total_memory_bytes: os.totalmem(),
    node_version: process.version,
    gpus,
    engine: options.engine ?? null,
    llama_cpp_version: options.llamaCppVersion ?? null,
  };
}
