/*
 * Memory-bandwidth probe next to a plain memcpy reference measured in the same run: a single-thread
 * Buffer.copy of a 256 MiB buffer (libc memcpy underneath). memcpy moves each byte twice (read +
 * write), so both the copy rate and the bus traffic are printed.
 * Usage: node dist/bench/bandwidth.js [threads]
 */
import { availableParallelism } from "node:os";
import { measureMemoryBandwidth } from "../src/roofline/measureMemoryBandwidth.js";
import { parseBenchArgs, refuse } from "./benchArgs.js";

const { positionals } = parseBenchArgs({ script: import.meta.url, options: {}, positionals: 1 });
const threads = Number(positionals[0] ?? availableParallelism());
if (!Number.isInteger(threads) || threads < 1)
  refuse(`threads must be a positive integer (got "${positionals[0]}")`);
const SIZE = 256 * 1024 * 1024;
const src = Buffer.alloc(SIZE, 1);
const dst = Buffer.alloc(SIZE, 2);
src.copy(dst);
let best = 0;
for (let i = 0; i < 5; i++) {
  const t = performance.now();
  src.copy(dst);
  best = Math.max(best, SIZE / ((performance.now() - t) / 1000));
}
const single = await measureMemoryBandwidth({ threads: 1 });
const multi = await measureMemoryBandwidth({ threads });
const gb = (x: number): string => `${(x / 1e9).toFixed(2)} GB/s`;
console.log(`memcpy (Buffer.copy, 1 thread)  copy ${gb(best)}  = read+write traffic ${gb(2 * best)}`);
console.log(
  `probe, 1 thread (read)          best ${gb(single.bytes_per_second)}  median ${gb(single.median_bytes_per_second)}`,
);
console.log(
  `probe, ${threads} threads (read)         best ${gb(multi.bytes_per_second)}  median ${gb(multi.median_bytes_per_second)}`,
);
console.log(`probe ${threads}t / memcpy traffic     ${(multi.bytes_per_second / (2 * best)).toFixed(2)}×`);
