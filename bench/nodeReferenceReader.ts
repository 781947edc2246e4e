import net from "node:net";
import { performance } from "node:perf_hooks";
import { monotonicOffsetMs } from "./monotonicOffsetMs.js";

/** Load of a reference reader run: what the harness gives both reference readers. */
export interface ReferenceLoad {
  /** Base URL of the mock, ending in /v1. */
  url: string;
  /** Streams kept in flight (one keep-alive connection each). */
  streams: number;
  /** Requests in all. */
  requests: number;
  /** Nominal duration of one request (ms): the streams' starts are spread over it. */
  requestMs: number;
  maxTokens: number;
  /** Request `i`'s prompt is `${promptPrefix} ${i}`. */
  promptPrefix: string;
}

const MARK = Buffer.from('"content":"');
const END = Buffer.from("0\r\n\r\n");

/**
 * The least a Node.js client can do to time a chunk, for bench/harness.ts: plain sockets with
 * `data` events, each read stamped on arrival, token chunks recognised by the mock's `"content":"`
 * marker, no HTTP, SSE or JSON parsing. Its timing error is the floor that Node's event loop and
 * this machine put under any Node client (bench/referenceReader.c gives the floor without Node).
 * Returns each prompt's token-chunk arrival times on the machine-wide monotonic clock (ms).
 */
export function readWithNode(load: ReferenceLoad): Promise<Map<string, number[]>> {
  const url = new URL(load.url);
  const offset = monotonicOffsetMs();
  const arrivals = new Map<string, number[]>();
  let next = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const startStream = (): void => {
      const socket = net.connect({ host: url.hostname, port: Number(url.port) });
      socket.setNoDelay(true);
      let times: number[] = [];
      let marked = 0;
      let ended = 0;
      const sendNext = (): void => {
        if (next >= load.requests) {
          socket.destroy();
          return;
        }
        const prompt = `${load.promptPrefix} ${next++}`;
        times = [];
        arrivals.set(prompt, times);
        const body = JSON.stringify({
          model: "mock",
          messages: [{ role: "user", content: prompt }],
          max_tokens: load.maxTokens,
          stream: true,
        });
        socket.write(
          `POST ${url.pathname}/chat/completions HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      };
      socket.on("data", (bytes: Buffer) => {
        const at = performance.now() + offset;
        for (let k = 0; k < bytes.length; k++) {
          const c = bytes[k];
          if (c === MARK[marked]) {
            if (++marked === MARK.length) {
              times.push(at);
              marked = 0;
            }
          } else {
            marked = c === MARK[0] ? 1 : 0;
          }
          ended = c === END[ended] ? ended + 1 : c === END[0] ? 1 : 0;
          if (ended === END.length) {
            ended = 0;
            if (++done === load.requests) resolve(arrivals);
            sendNext();
          }
        }
      });
      socket.on("error", reject);
      sendNext();
    };
    for (let i = 0; i < load.streams; i++) {
      setTimeout(startStream, (i * load.requestMs) / load.streams);
    }
  });
}
