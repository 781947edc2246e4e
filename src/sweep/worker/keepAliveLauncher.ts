import type { AxisValue } from "../../search/Axis.js";
import type { ConfigurationLauncher, RunningConfiguration } from "../ConfigurationLauncher.js";

/** A launcher that keeps its last server across sweeps' runs; see {@link keepAliveLauncher}. */
export interface KeepAliveLauncher extends ConfigurationLauncher {
  /** Real launches so far (a configuration served by the kept server is not one). */
  readonly launches: number;
  /** Stops the kept server and closes the launcher underneath. */
  shutdown(): Promise<void>;
}

/**
 * Wraps `inner` for a worker that runs one claimed cell per `runSweep` call: a server stopped by
 * `runSweep` at the end of its cell stays up, and serves the next cell when it has the same
 * configuration (workers claim cells of the configuration they have running first), so a
 * configuration is launched once per worker rather than once per cell. A server that died is
 * really stopped; a different configuration stops the kept one before it launches. `close()` does
 * nothing: {@link KeepAliveLauncher.shutdown} ends it all.
 */
export function keepAliveLauncher(inner: ConfigurationLauncher): KeepAliveLauncher {
  let kept: { key: string; server: RunningConfiguration } | null = null;
  let launches = 0;
  const drop = async (): Promise<void> => {
    const current = kept;
    kept = null;
    if (current !== null) await current.server.stop();
  };
  const handle = (server: RunningConfiguration): RunningConfiguration => ({
    target: server.target,
    log_path: server.log_path,
    url: server.url,
    argv: server.argv,
    died: () => server.died(),
    death: server.death,
    async stop() {
      if (server.died() !== null && kept?.server === server) await drop();
    },
  });
  return {
    get launches() {
      return launches;
    },
    async launch(knobs: Readonly<Record<string, AxisValue>>, signal: AbortSignal) {
      const key = JSON.stringify(Object.entries(knobs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      if (kept !== null && (kept.key !== key || kept.server.died() !== null)) await drop();
      if (kept === null) {
        launches++;
        kept = { key, server: await inner.launch(knobs, signal) };
      }
      return handle(kept.server);
    },
    async close() {
      // The kept server outlives runSweep's call on purpose; shutdown() ends it.
    },
    async shutdown() {
      try {
        await drop();
      } finally {
        await inner.close();
      }
    },
  };
}
