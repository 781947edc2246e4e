import type { AxisValue } from "../search/Axis.js";
import type { LaunchFailure } from "../servers/LaunchFailure.js";
import type { Target } from "../targets/Target.js";

/** A configuration that is up and serving. */
export interface RunningConfiguration {
  target: Target;
  /** The launch's log file; null for the embedded engine. */
  log_path: string | null;
  /** Where the server answers, for the record; null for the embedded engine. */
  url: string | null;
  /** The server's command line, for the record; null for the embedded engine. */
  argv: string[] | null;
  /** The server's failure when it died on its own since it became ready; null while it serves. */
  died(): LaunchFailure | null;
  /** Resolves when the server dies on its own; never for the embedded engine. */
  death: Promise<void>;
  /** Stops the server (or frees the engine's context) and waits until it is gone. */
  stop(): Promise<void>;
}

/** Starts the configurations of a sweep, one at a time. */
export interface ConfigurationLauncher {
  /**
   * Launches one configuration and resolves once it serves.
   * @throws ServerLaunchError with the classified failure when it does not start.
   */
  launch(knobs: Readonly<Record<string, AxisValue>>, signal: AbortSignal): Promise<RunningConfiguration>;
  /** Releases what the launcher holds across launches (the engine binding, a loaded model). */
  close(): Promise<void>;
}
