import type { MachineInfo } from "../results/MachineInfo.js";

/** What is known of a run when it starts: enough for storage to write the run row at once. */
export interface RunStartInfo {
  run_id: string;
  /** ISO time. */
  started_at: string;
  /** The configuration, free of secrets. */
  config: Record<string, unknown>;
  machine: MachineInfo;
}
