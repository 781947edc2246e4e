#!/usr/bin/env bash
# Builds llama.cpp's llama-bench (CPU only, -march=native) from the exact llama.cpp source that
# node-llama-cpp ships inside its npm package, so the reference is the same code the in-process
# engine runs. Idempotent: an existing build is reused; the last line printed is the binary path.
#
#   scripts/build-llama-bench.sh            # builds into ./llama-build (gitignored)
#   LLAMA_BUILD_DIR=/tmp/lb scripts/build-llama-bench.sh
#   export LLAMA_BENCH="$(scripts/build-llama-bench.sh | tail -n 1)"
set -euo pipefail

script_name=build-llama-bench
# shellcheck source=scripts/llama-source.sh
source "$(dirname "${BASH_SOURCE[0]}")/llama-source.sh"
out="$build_root/build-bench"
tag="$(node -e 'process.stdout.write(require(process.argv[1]).tag)' "$nlc/llama.cpp.info.json")"
bin="$out/bin/llama-bench"
if [[ ! -x "$bin" ]]; then
  build_llama_target "$out" llama-bench -DLLAMA_BUILD_SERVER=OFF
fi
echo "build-llama-bench: llama.cpp $tag, binary:" >&2
echo "$bin"
