import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** Tries to listen on `host:port` and closes at once: true when nothing else listens there. */
export function isPortFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/**
 * A port free on `host` now, chosen by the kernel. Another process could take it before the
 * server binds it; the launch then fails as `port_in_use` and the caller may retry with another.
 */
export function findFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen({ host, port: 0, exclusive: true }, () => {
      const address = probe.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Waits until `host:port` can be listened on again; returns false when `timeoutMs` ran out first. */
export async function waitForPortFree(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await isPortFree(host, port)) return true;
    if (performance.now() >= deadline) return false;
    await sleep(50);
  }
}
