import { existsSync } from "node:fs";
import { TokbenchError } from "../errors/TokbenchError.js";

/** Where Debian (and most Linux distributions) install Chromium. */
export const DEFAULT_CHROMIUM = "/usr/bin/chromium";

/**
 * Flags for headless Chromium on a machine without network: no sandbox (tokbench may run as root in
 * a container), no GPU, and none of Chromium's own background connections (component updates, sync,
 * safe browsing), which would fail, slowly, on a closed network.
 */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/**
 * The Chromium executable to drive: `path`, else `$TOKBENCH_CHROMIUM`, else {@link DEFAULT_CHROMIUM}.
 * @throws TokbenchError `BROWSER_UNAVAILABLE` when it does not exist.
 */
export function chromiumPath(path?: string): string {
  const chosen = path ?? process.env.TOKBENCH_CHROMIUM ?? DEFAULT_CHROMIUM;
  if (!existsSync(chosen)) {
    throw new TokbenchError(
      "BROWSER_UNAVAILABLE",
      `no Chromium at ${chosen}: install it (Debian: apt-get install chromium) or set TOKBENCH_CHROMIUM`,
      { context: { path: chosen } },
    );
  }
  return chosen;
}
