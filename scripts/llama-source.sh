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
