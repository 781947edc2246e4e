/*
 * The compile step of `buildTunedEngine`, in a process of its own so that its output (cmake, the
 * compiler) can be captured, logged and parsed for progress while the parent stays responsive.
 * A file, not `node -e`: node-llama-cpp forks test processes with process.execArgv.
 */
import { buildTunedLlama } from "./buildTunedLlama.js";

const result = await buildTunedLlama({ force: true, progressLogs: "stderr" });
process.stdout.write(`${JSON.stringify(result)}\n`);
