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
  echo "build-llama-server: configuring and building llama-server with $jobs jobs (several minutes on 2 cores)" >&2
  generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  cmake -S "$src" -B "$out" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
    -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=ON >&2
  cmake --build "$out" --target llama-server -j "$jobs" >&2
fi
echo "$bin"
