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
 * A throwaway server on 127.0.0.1 answering every request, once its body is read, with `respond`
 * (which gets the body as text); resolves to its root URL `http://127.0.0.1:PORT`. Closed at the
 * end, open connections included.
 */
export async function rawServer(
  respond: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void,
): Promise<string> {
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => respond(req, res, Buffer.concat(parts).toString("utf8")));
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

/** What {@link sendSseCompletion} streams. */
export interface SseCompletionScript {
  /** Token-bearing chunks, one token of text each. Defaults to 4. */
  chunks?: number;
  /** Milliseconds between chunks, so each comes in its own socket read. Defaults to 3. */
  gapMs?: number;
  /**
   * The `usage` object of the last chunk, as the server reports it: an object, or raw JSON text
   * for what JSON.stringify cannot write (`1e999`); null sends none. Defaults to null.
   */
  usage?: Record<string, unknown> | string | null;
  /** A llama.cpp-style `timings` object in the last chunk; null sends none. Defaults to null. */
  timings?: Record<string, unknown> | null;
}

/**
 * Answers with a streamed chat completion over SSE: `chunks` content deltas `gapMs` apart, a
 * `finish_reason`, then the usage and timings exactly as scripted (absurd values included), then
 * `[DONE]`.
 */
export function sendSseCompletion(res: http.ServerResponse, script: SseCompletionScript = {}): void {
  const chunks = script.chunks ?? 4;
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const event = (value: unknown): void => {
    res.write(`data: ${JSON.stringify(value)}\n\n`);
  };
  let sent = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (sent < chunks) {
      event({ choices: [{ index: 0, delta: { content: ` w${sent}` }, finish_reason: null }] });
      sent++;
      setTimeout(next, script.gapMs ?? 3);
      return;
    }
    const last: Record<string, unknown> = { choices: [{ index: 0, delta: {}, finish_reason: "stop" }] };
    if (script.timings != null) last.timings = script.timings;
    event(last);
    if (typeof script.usage === "string") res.write(`data: {"choices":[],"usage":${script.usage}}\n\n`);
    else if (script.usage != null) event({ choices: [], usage: script.usage });
    res.end("data: [DONE]\n\n");
  };
  next();
}
