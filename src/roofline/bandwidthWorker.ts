/*
 * Worker of measureMemoryBandwidth: owns one WebAssembly memory of `bufferBytes`, touches every page
 * so the timing sees no page faults, then on each round waits at the shared barrier and reads the
 * buffer `passes` times.
 *
 * Shared Int32Array layout: [0] round counter written by the main thread, [1] workers ready,
 * [2] workers done with the current round.
 */
import { parentPort, workerData } from "node:worker_threads";
import { instantiateReadLoop } from "./readLoopWasm.js";

interface WorkerInput {
  readonly control: SharedArrayBuffer;
  readonly bufferBytes: number;
  readonly passes: number;
  readonly rounds: number;
}

const input = workerData as WorkerInput;
const control = new Int32Array(input.control);
const PAGE = 65536;
const exports = await instantiateReadLoop();
exports.mem.grow(Math.ceil(input.bufferBytes / PAGE));
const bytes = new Uint8Array(exports.mem.buffer);
for (let i = PAGE; i < bytes.length; i += 4096) bytes[i] = i & 0xff;
const len = Math.floor((bytes.length - PAGE) / 128) * 128;
let sink = 0;
Atomics.add(control, 1, 1);
Atomics.notify(control, 1);
for (let round = 1; round <= input.rounds; round++) {
  Atomics.wait(control, 0, round - 1);
  for (let p = 0; p < input.passes; p++) sink ^= exports.read(PAGE, len);
  Atomics.add(control, 2, 1);
  Atomics.notify(control, 2);
}
parentPort?.postMessage({ readBytesPerRound: len * input.passes, sink });
