import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { TokbenchError } from "../../../errors/TokbenchError.js";
import { providerFor } from "../../../servers/providerFor.js";
import { defaultDatabasePath } from "../../../storage/defaultDatabasePath.js";
import { attachedLauncher } from "../../../sweep/attachedLauncher.js";
import type { ConfigurationLauncher } from "../../../sweep/ConfigurationLauncher.js";
import { type MemoryPrecheck, prepareMemoryPrecheck } from "../../../sweep/memoryPrecheck.js";
import { processLauncher } from "../../../sweep/processLauncher.js";
import type { SweepSpec } from "../../../sweep/SweepSpec.js";
import type { SweepEquipment } from "../../../sweep/worker/runWorker.js";

/**
 * The server logs' folder of a sweep worked on from a PostgreSQL database: `--log-dir`, or
 * `sweep-logs/<sweep id>` in tokbench's data directory on this machine (each worker keeps the logs
 * of the servers it launched).
 */
export function workerLogDir(logDir: string | undefined, sweepId: string): string {
  return resolve(logDir ?? join(dirname(defaultDatabasePath({})), "sweep-logs", sweepId));
}

/**
 * What a worker needs to serve a sweep stored in PostgreSQL: the launcher of its spec's provider
 * (a server process per configuration, or the running server of `--url`) and the memory pre-check.
 * The embedded engine is refused: it cannot serve several processes' sweeps yet.
 */
export async function equipSweep(
  spec: SweepSpec,
  sweepId: string,
  logDir: string | undefined,
  say: (text: string) => void,
): Promise<SweepEquipment> {
  const precheck = await prepareMemoryPrecheck(spec);
  const checkFit = (knobs: Readonly<Record<string, unknown>>) => precheck.check(knobs as never);
  if (spec.provider === "embedded") {
    throw new TokbenchError(
      "INVALID_ARGUMENT",
      `sweep ${sweepId} uses the embedded engine, which workers do not run yet: sweep a server (--server-cmd, --server) or run it on one machine with a SQLite --db`,
    );
  }
  if (spec.provider === "url") {
    return { launcher: attachedLauncher(spec as SweepSpec & { url: string; model: string }), checkFit };
  }
  const dir = workerLogDir(logDir, sweepId);
  mkdirSync(dir, { recursive: true });
  return {
    launcher: serverLauncher(spec, spec.provider, precheck, dir, say),
    checkFit,
  };
}

/** The launcher of a sweep's server processes (its provider's command line per configuration), logs in `logDir`. */
export function serverLauncher(
  spec: SweepSpec,
  provider: Exclude<SweepSpec["provider"], "url">,
  precheck: MemoryPrecheck,
  logDir: string,
  say: (text: string) => void,
): ConfigurationLauncher {
  return processLauncher({
    provider: providerFor(provider, spec.server_cmd === null ? undefined : { command: spec.server_cmd }),
    spec,
    log_dir: logDir,
    log_prefix: "server",
    model_layers: (model) => precheck.layers(model),
    on_launch: (argv, logPath) => say(`  launching: ${argv.join(" ")}\n  log: ${logPath}\n`),
  });
}
