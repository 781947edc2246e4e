import net, { type Socket } from "node:net";
import tls from "node:tls";

/** Receives the bytes of each socket read, in a buffer the receiver may keep. */
export type ReadSink = (bytes: Buffer) => void;

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
      if (!(socket as PoolSocket)[DIRECT_READS]) socket.removeListener("data", onIdleData);
      if (!socket.destroyed && socket.readable && socket.writable) return { socket, reused: true };
      socket.destroy();
    }
    return { socket: connect(url), reused: false };
  }

  /**
   * Routes the socket's reads to `sink` until {@link detach}. Plain TCP sockets are read into one
   * shared buffer and copied out (Node's `onread`), which allocates no buffer object of its own per
   * read; TLS sockets use `data` events.
   */
  attach(socket: Socket, sink: ReadSink): void {
    const s = socket as PoolSocket;
    if (s[DIRECT_READS]) s[SINK] = sink;
    else socket.on("data", sink);
  }

  /** Stops routing the socket's reads to `sink`. */
  detach(socket: Socket, sink: ReadSink): void {
    const s = socket as PoolSocket;
    if (s[DIRECT_READS]) {
      if (s[SINK] === sink) s[SINK] = undefined;
    } else {
      socket.removeListener("data", sink);
    }
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
    if (!(socket as PoolSocket)[DIRECT_READS]) socket.on("data", onIdleData);
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
const SINK = Symbol("tokbench.pool.sink");
const DIRECT_READS = Symbol("tokbench.pool.directReads");
interface PoolSocket extends Socket {
  [DROP]?: () => void;
  [SINK]?: ReadSink | undefined;
  [DIRECT_READS]?: boolean;
}

/** The one buffer every plain TCP socket reads into; each read is copied out before the next. */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function onIdleEnd(this: PoolSocket): void {
  this[DROP]?.();
}

/** `data` listener of an idle TLS socket (plain sockets route reads through `onread`). */
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
  if (secure) {
    const socket = tls.connect({
      host,
      port,
      servername: net.isIP(host) === 0 ? host : undefined,
      ALPNProtocols: ["http/1.1"],
    });
    socket.setNoDelay(true);
    return socket;
  }
  const socket: PoolSocket = net.connect({
    host,
    port,
    onread: {
      buffer: SHARED_READ_BUFFER,
      callback(nread: number, buffer: Uint8Array): boolean {
        // Copied into Node's pooled slab (small reads): no ArrayBuffer of its own per read.
        const bytes = Buffer.allocUnsafe(nread);
        bytes.set(buffer.subarray(0, nread));
        const sink = socket[SINK];
        if (sink !== undefined) {
          sink(bytes);
        } else {
          // Bytes no exchange asked for (an idle or finished connection): it cannot be reused.
          const drop = socket[DROP];
          if (drop !== undefined) drop();
          else socket.destroy();
        }
        return true;
      },
    },
  });
  socket[DIRECT_READS] = true;
  socket.setNoDelay(true);
  return socket;
}
