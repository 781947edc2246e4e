#!/usr/bin/env bash
# Builds tokbench's tuned llama.cpp binary for node-llama-cpp (CPU, -march=native, OpenMP) from the
# llama.cpp source bundled inside the node-llama-cpp npm package. No network access is needed.
# Idempotent: an existing tuned build is reused. Optional: without it tokbench uses the prebuilt
# binary, which is slower in-process (docs/engine-speed.md).
#
#   npm run build:engine          # = npm run build && bash scripts/build-native-engine.sh
#   FORCE=1 scripts/build-native-engine.sh   # rebuild
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
nlc_bin="$root/node_modules/.bin/node-llama-cpp"
if [[ ! -x "$nlc_bin" ]]; then
  echo "build-native-engine: node-llama-cpp is not installed (run npm install)" >&2
  exit 1
fi
if [[ ! -f "$root/dist/src/engine/native/buildTunedLlama.js" ]]; then
  echo "build-native-engine: dist/ is missing (run npm run build first)" >&2
  exit 1
fi
if ! command -v cmake >/dev/null 2>&1; then
  echo "build-native-engine: cmake is required (apt-get install cmake build-essential)" >&2
  exit 1
fi

# node-llama-cpp compiles from node_modules/node-llama-cpp/llama/llama.cpp; populate it from the
# bundled git release (the --skipBuild download never touches the network when the bundle matches).
if [[ ! -d "$root/node_modules/node-llama-cpp/llama/llama.cpp/.git" && ! -f "$root/node_modules/node-llama-cpp/llama/llama.cpp/CMakeLists.txt" ]]; then
  NODE_LLAMA_CPP_SKIP_DOWNLOAD=false "$nlc_bin" source download --skipBuild --noUsageExample --gpu false >&2
fi

node "$root/scripts/build-native-engine.mjs"
