/** The machine a run happened on. Stored with every run so results can be compared fairly. */
export interface MachineInfo {
  hostname: string;
  os: string;
  os_release: string;
  arch: string;
  cpu_model: string;
  cpu_cores: number;
  total_memory_bytes: number;
  node_version: string;
  gpus: GpuInfo[];
  /** Engine name and version (for example `node-llama-cpp 3.22.1`), when an engine was used. */
  engine: string | null;
  /** llama.cpp build (release tag or commit), when known. */
  llama_cpp_version: string | null;
}

export interface GpuInfo {
  name: string;
  memory_total_bytes: number | null;
  driver: string | null;
}
