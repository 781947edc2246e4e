#!/usr/bin/env bash
# Builds tokbench's graph observer (native/graph-observer/): a small Node-API addon that observes
# llama.cpp's compute graph inside the llama.cpp binary node-llama-cpp loads, for
# `tokbench bench --experts --layers` and `--trace-level verbose` (docs/trace.md). It compiles one C
# file against the headers of the llama.cpp source node-llama-cpp bundles (the same checkout as
# llama-bench and llama-server, so nothing is downloaded) and links no llama.cpp library: it uses
# the one node-llama-cpp loads at run time. Seconds with a C compiler. Idempotent; FORCE=1 rebuilds.
# The last line printed is the addon's path.
#
#   npm run build:observer
#   LLAMA_BUILD_DIR=/work/llama-build scripts/build-graph-observer.sh
set -euo pipefail

script_name=build-graph-observer
# shellcheck source=scripts/llama-source.sh
source "$(dirname "${BASH_SOURCE[0]}")/llama-source.sh"
out="$build_root/build-observer"
addon="$out/tokbench-graph-observer.node"
source_file="$root/native/graph-observer/graph_observer.c"
napi_include="$root/node_modules/node-api-headers/include"
cc="${CC:-cc}"

if ! command -v "$cc" >/dev/null 2>&1; then
  echo "$script_name: a C compiler is required ($cc not found; apt-get install build-essential)" >&2
  exit 1
fi
if [[ ! -f "$napi_include/node_api.h" ]]; then
  echo "$script_name: $napi_include/node_api.h not found (run npm install first)" >&2
  exit 1
fi

tag="$(node -e 'process.stdout.write(require(process.argv[1]).tag)' "$nlc/llama.cpp.info.json")"
commit="$(git -C "$src" rev-parse HEAD)"
# Rebuild when the source, the llama.cpp checkout or the addon's own code changed.
stamp="$tag $commit $(sha256sum "$source_file" | cut -d' ' -f1)"
if [[ "${FORCE:-0}" != "1" && -f "$addon" && -f "$out/stamp" && "$(cat "$out/stamp")" == "$stamp" ]]; then
  echo "$script_name: up to date (llama.cpp $tag)" >&2
  echo "$addon"
  exit 0
fi

mkdir -p "$out"
echo "$script_name: compiling against llama.cpp $tag ($commit)" >&2
"$cc" -O2 -g -std=c11 -fPIC -shared -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter \
  -DTOKBENCH_LLAMA_TAG="\"$tag\"" -DTOKBENCH_LLAMA_COMMIT="\"$commit\"" \
  -I"$napi_include" -I"$src/include" -I"$src/ggml/include" \
  -o "$addon.tmp" "$source_file" -ldl -lpthread
mv "$addon.tmp" "$addon"
echo "$stamp" >"$out/stamp"
echo "$addon"
