#!/usr/bin/env bash
# Builds llama.cpp's llama-bench (CPU only, -march=native) from the exact llama.cpp source that
# node-llama-cpp ships inside its npm package, so the reference is the same code the in-process
# engine runs. Idempotent: an existing build is reused; the last line printed is the binary path.
#
#   scripts/build-llama-bench.sh            # builds into ./llama-build (gitignored)
#   LLAMA_BUILD_DIR=/tmp/lb scripts/build-llama-bench.sh
#   export LLAMA_BENCH="$(scripts/build-llama-bench.sh | tail -n 1)"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nlc="$root/node_modules/node-llama-cpp/llama"
bundle="$nlc/gitRelease.bundle"
build_root="${LLAMA_BUILD_DIR:-$root/llama-build}"
src="$build_root/llama.cpp"
out="$build_root/build-bench"
jobs="${JOBS:-2}"

if [[ ! -f "$bundle" ]]; then
  echo "build-llama-bench: $bundle not found (run npm install first)" >&2
  exit 1
fi
tag="$(node -e 'process.stdout.write(require(process.argv[1]).tag)' "$nlc/llama.cpp.info.json")"

mkdir -p "$build_root"
if [[ ! -d "$src/.git" ]]; then
  echo "build-llama-bench: cloning the bundled llama.cpp ($tag) into $src" >&2
  git clone --quiet "$bundle" "$src"
fi

bin="$out/bin/llama-bench"
if [[ ! -x "$bin" ]]; then
  echo "build-llama-bench: configuring and building llama-bench with $jobs jobs (several minutes on 2 cores)" >&2
  cmake -S "$src" -B "$out" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
    -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >&2
  cmake --build "$out" --target llama-bench -j "$jobs" >&2
fi
echo "build-llama-bench: llama.cpp $tag, binary:" >&2
echo "$bin"
