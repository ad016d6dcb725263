#!/usr/bin/env bash
# Installs the Debian packages cellc needs (only those missing) and builds it with Ninja.
# Idempotent and quiet when everything is already in place.
# usage: scripts/setup.sh [PACKAGE...]   (packages a caller needs beside these: scripts/bench.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  cmake ninja-build g++ clang-format clang-14  # clang-14: the MLIR test links modules
  libcli11-dev googletest libgtest-dev
  llvm-14-dev llvm-14-tools               # FileCheck and lit
  mlir-14-tools                           # mlir-opt-14 verifies --emit=mlir
  libhalide14-0-dev libtbb-dev            # kernels and their thread pool
  python3-numpy python3-torch libopenblas0-pthread  # reference tests against PyTorch
  "$@"
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

BUILD=${CELLC_BUILD_DIR:-build}
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$BUILD" --quiet 2>&1 | grep -v '^ninja: no work to do' || true
test -x "$BUILD/cellc"

# Debian's /usr/bin/python3 imports the cellc package (python/cellc) of this checkout.
SITE=$(/usr/bin/python3 -c 'import site; print(site.getsitepackages()[0])')
PTH="$SITE/cellc.pth"
if [ "$(cat "$PTH" 2>/dev/null)" != "$PWD/python" ]; then
  mkdir -p "$SITE" && echo "$PWD/python" >"$PTH"
fi
