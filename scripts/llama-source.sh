# Sourced by the build-llama-*.sh scripts: checks out the llama.cpp source that node-llama-cpp ships
# in its npm package (a git bundle, so nothing is downloaded) into $src, and sets $root,
# $build_root, $src and $jobs. The caller names itself in $script_name for messages.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nlc="$root/node_modules/node-llama-cpp/llama"
bundle="$nlc/gitRelease.bundle"
build_root="${LLAMA_BUILD_DIR:-$root/llama-build}"
src="$build_root/llama.cpp"
jobs="${JOBS:-2}"

if [[ ! -f "$bundle" ]]; then
  echo "$script_name: $bundle not found (run npm install first)" >&2
  exit 1
fi
mkdir -p "$build_root"
if [[ ! -d "$src/.git" ]]; then
  echo "$script_name: cloning the bundled llama.cpp into $src" >&2
  git clone --quiet "$bundle" "$src"
fi

# build_llama_target OUT_DIR TARGET [CMAKE_OPTION...]: configures a CPU-only Release build of $src
# in OUT_DIR (Ninja when available) and builds TARGET with $jobs jobs.
build_llama_target() {
  local out="$1" target="$2"
  shift 2
  local generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  echo "$script_name: configuring and building $target with $jobs jobs (several minutes on 2 cores)" >&2
  cmake -S "$src" -B "$out" "${generator[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
    -DGGML_CUDA=OFF -DGGML_VULKAN=OFF -DGGML_METAL=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF "$@" >&2
  cmake --build "$out" --target "$target" -j "$jobs" >&2
}
