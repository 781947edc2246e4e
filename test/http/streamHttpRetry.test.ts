import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { describe, it } from "node:test";
import { ConnectionPool } from "../../src/http/ConnectionPool.js";
import { streamHttp } from "../../src/http/streamHttp.js";

/**
 * A server that drops a kept-alive connection when a second request arrives on it, as a server
 * that closed an idle socket does in the race with a client reusing it.
 */
async function droppingServer(dropFirst = false) {
  const perSocket = new Map<Socket, number>();
  let attempts = 0;
  const server = http.createServer((req, res) => {
    attempts++;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n > 1 || dropFirst) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on("end", () => res.end("ok"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  return { url, server, attempts: () => attempts };
}

describe("streamHttp on a reused keep-alive socket", () => {
  it("sends again, once, when the server had closed the reused socket", async () => {
    const s = await droppingServer();
    const pool = new ConnectionPool();
    try {
      const opts = { url: s.url, headers: {}, body: "{}", pool, timeoutMs: 5000 };
      const first = await streamHttp(opts);
      assert.equal(first.outcome, "complete");
      const second = await streamHttp(opts);
      assert.equal(second.outcome, "complete", String(second.detail));
      assert.equal(second.status, 200);
      assert.equal(s.attempts(), 3);
    } finally {
      pool.close();
      s.server.close();
    }
  });

  it("does not retry a request that failed on a fresh connection", async () => {
    const s = await droppingServer(true);
    const pool = new ConnectionPool();
    try {
      const out = await streamHttp({ url: s.url, headers: {}, body: "{}", pool, timeoutMs: 5000 });
      assert.equal(out.outcome, "connection_failed");
      assert.equal(s.attempts(), 1);
    } finally {
      pool.close();
      s.server.close();
    }
  });

  it("refuses a header value with a line break without sending anything", async () => {
    const s = await droppingServer();
    const pool = new ConnectionPool();
    try {
      const out = await streamHttp({
        url: s.url,
        headers: { "x-test": "a\r\nx-injected: 1" },
        body: "{}",
        pool,
        timeoutMs: 5000,
      });
      assert.equal(out.outcome, "connection_failed");
      assert.match(String(out.detail), /header x-test has a line break/);
      assert.equal(s.attempts(), 0);
    } finally {
      pool.close();
      s.server.close();
    }
  });
});
