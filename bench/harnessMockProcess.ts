/**
 * Child process of bench/harness.ts: runs the mock server in its own process, so that the
 * harness's timing error and memory are measured without the server sharing its event loop, and
 * records the true send time of every chunk on the machine-wide monotonic clock.
 *
 * argv[2]: JSON MockServerOptions. Prints the URL on stdout; on an IPC "dump" message, replies with
 * `{prompt, sent_ms[]}` for every request, then exits.
 */
import { performance } from "node:perf_hooks";
import type { MockServerOptions } from "../src/mock/MockServer.js";
import { MockServer } from "../src/mock/MockServer.js";
import { parseBenchArgs, refuse } from "./benchArgs.js";
import { monotonicOffsetMs } from "./monotonicOffsetMs.js";

const { positionals } = parseBenchArgs({ script: import.meta.url, options: {}, positionals: 2 });
let options: MockServerOptions;
try {
  options = JSON.parse(positionals[0] ?? "{}") as MockServerOptions;
} catch (error) {
  refuse(`argument 1 is not JSON mock options: ${(error as Error).message}`);
}
if (positionals[1] !== undefined && positionals[1] !== "record" && positionals[1] !== "") {
  refuse(`argument 2 is "record" or nothing (got ${JSON.stringify(positionals[1])})`);
}
const record = positionals[1] === "record";
const offset = monotonicOffsetMs();
const prompts: string[] = [];
const sent: number[][] = [];
const server = new MockServer({
  ...options,
  ...(record
    ? {
        onRequest(info) {
          prompts[info.id] = info.prompt;
          sent[info.id] = [];
        },
        onChunkSent(id, chunkIndex, _tokens, atMs) {
          const times = sent[id];
          if (times !== undefined) times[chunkIndex] = atMs + offset;
        },
      }
    : {}),
});
const url = await server.start();
process.stdout.write(`${url}\n`);
process.on("message", (message) => {
  if (message !== "dump") return;
  const out = prompts.map((prompt, id) => ({ prompt, sent_ms: sent[id] ?? [] }));
  process.send?.(out, () => {
    void server.close().then(() => process.exit(0));
  });
});
// Keep a reference to performance so the clock module is loaded before the first request.
performance.now();
