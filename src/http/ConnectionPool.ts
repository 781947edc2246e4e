import net, { type Socket } from "node:net";
import tls from "node:tls";

/** A connection handed out by {@link ConnectionPool.acquire}. */
export interface PooledConnection {
  socket: Socket;
  /** True when the socket already carried an exchange (it may have been closed by the server since). */
  reused: boolean;
}

/**
 * Keep-alive connections to HTTP(S) origins, for tokbench's own HTTP/1.1 client (`streamHttp`).
 * No limit on open connections (a run may hold thousands of concurrent streams) and idle ones are
 * kept until the server closes them or {@link close} is called, so a burst does not end in
 * reconnect churn. A socket is owned by at most one exchange at a time.
 */
export class ConnectionPool {
  private readonly idle = new Map<string, Socket[]>();
  private closed = false;

  /** An idle connection to `url`'s origin when there is one, else a new one (connecting). */
  acquire(url: URL): PooledConnection {
    const key = originKey(url);
    const list = this.idle.get(key);
    while (list !== undefined && list.length > 0) {
      const socket = list.pop() as Socket;
      socket.removeListener("error", onIdleEnd);
      socket.removeListener("close", onIdleEnd);
      socket.removeListener("data", onIdleData);
      if (!socket.destroyed && socket.readable && socket.writable) return { socket, reused: true };
      socket.destroy();
    }
    return { socket: connect(url), reused: false };
  }

  /**
   * Returns a socket whose exchange ended cleanly (complete response, server allows keep-alive) for
   * reuse. The caller must have removed its own listeners.
   */
  release(url: URL, socket: Socket): void {
    if (this.closed || socket.destroyed) {
      socket.destroy();
      return;
    }
    const key = originKey(url);
    let list = this.idle.get(key);
    if (list === undefined) {
      list = [];
      this.idle.set(key, list);
    }
    const owner = list;
    const drop = (): void => {
      const at = owner.indexOf(socket);
      if (at >= 0) owner.splice(at, 1);
      socket.destroy();
    };
    // An idle socket that errors, closes or receives bytes no exchange asked for leaves the pool.
    (socket as PoolSocket)[DROP] = drop;
    socket.on("error", onIdleEnd);
    socket.on("close", onIdleEnd);
    socket.on("data", onIdleData);
    list.push(socket);
  }

  /** Closes every idle connection; connections released later are closed instead of kept. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const socket of list.splice(0)) socket.destroy();
    this.idle.clear();
  }
}

const DROP = Symbol("tokbench.pool.drop");
interface PoolSocket extends Socket {
  [DROP]?: () => void;
}

function onIdleEnd(this: PoolSocket): void {
  this[DROP]?.();
}

function onIdleData(this: PoolSocket): void {
  this[DROP]?.();
}

function originKey(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

function connect(url: URL): Socket {
  // URL keeps IPv6 literals in brackets; the socket API wants them bare.
  const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const secure = url.protocol === "https:";
  const port = Number(url.port || (secure ? 443 : 80));
  const socket = secure
    ? tls.connect({
        host,
        port,
        servername: net.isIP(host) === 0 ? host : undefined,
        ALPNProtocols: ["http/1.1"],
      })
    : net.connect({ host, port });
  socket.setNoDelay(true);
  return socket;
}
