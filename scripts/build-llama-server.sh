#!/usr/bin/env bash
# Builds llama.cpp's llama-server (CPU only) from the llama.cpp source that node-llama-cpp ships in
# its npm package, next to llama-bench (scripts/build-llama-bench.sh), for the real-server
# cross-check (bench/llamaServerCrossCheck.ts). Idempotent; the last line printed is the binary.
#
#   export LLAMA_SERVER="$(scripts/build-llama-server.sh | tail -n 1)"
set -euo pipefail

script_name=build-llama-server
# shellcheck source=scripts/llama-source.sh
source "$(dirname "${BASH_SOURCE[0]}")/llama-source.sh"
out="$build_root/build-server"
bin="$out/bin/llama-server"
if [[ ! -x "$bin" ]]; then
  build_llama_target "$out" llama-server -DLLAMA_BUILD_SERVER=ON
fi
echo "$bin"
