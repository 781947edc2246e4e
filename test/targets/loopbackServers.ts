import http from "node:http";
import type { AddressInfo } from "node:net";
import { after } from "node:test";
import { MockServer, type MockServerOptions } from "../../src/mock/MockServer.js";

const open: { close(): Promise<void> }[] = [];
// Registered on import: node --test runs every test file in its own process, so the hook belongs to
// the importing file and runs when its tests are over.
after(async () => {
  for (const thing of open.reverse()) await thing.close();
});

/** Closes `thing` when the test file ends, before anything registered earlier. */
export function closeAtEnd<T extends { close(): Promise<void> }>(thing: T): T {
  open.push(thing);
  return thing;
}

/** A started {@link MockServer} and the ground truth it reported. */
export interface StartedMock {
  mock: MockServer;
  /** True send time of every chunk (`performance.now()` ms), by mock request id, then chunk index. */
  sent: Map<number, number[]>;
}

/** Starts a mock server (15 ms to the first token, 4 ms between tokens unless `options` say otherwise), closed at the end. */
export async function startMock(options: MockServerOptions): Promise<StartedMock> {
  const sent = new Map<number, number[]>();
  const mock = new MockServer({
    ttftMs: 15,
    itlMs: 4,
    ...options,
    onChunkSent: (id, chunk, _tokens, at) => {
      const list = sent.get(id) ?? [];
      list[chunk] = at;
      sent.set(id, list);
    },
  });
  await mock.start();
  closeAtEnd(mock);
  return { mock, sent };
}

/**
 * A throwaway server on 127.0.0.1 answering every request, once its body is read, with `respond`;
 * resolves to its root URL `http://127.0.0.1:PORT`. Closed at the end, open connections included.
 */
export async function rawServer(
  respond: (req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<string> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => respond(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  closeAtEnd({
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
