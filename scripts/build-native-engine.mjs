// Called by scripts/build-native-engine.sh. A file, not `node --input-type=module -e`: node-llama-cpp
// forks test processes with process.execArgv, and a forked file cannot take --input-type.
const { buildTunedLlama } = await import(new URL("../dist/src/engine/native/buildTunedLlama.js", import.meta.url).href);
const result = await buildTunedLlama({ force: process.env.FORCE === "1" });
process.stderr.write(`build-native-engine: ${result.built ? "built" : "already built"}: ${result.systemInfo.trim()}\n`);
process.stdout.write(`${JSON.stringify(result.cmakeOptions)}\n`);
