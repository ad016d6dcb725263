#!/usr/bin/env bash
# The benchmark (not part of the tests): cellc's compiled LSTM beside PyTorch's and oneDNN's,
# in one run. Installs what it needs (only what is missing), builds cellc and bench/onednn_lstm,
# then runs bench/bench_lstm.py with this script's arguments (--repeat N, --threads 1,2, ...),
# or with --stack first, bench/bench_stack.py (stacks, both directions, ragged batches; --repeat
# N, --shape I,H,B,T).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CELLC_BUILD_DIR:-build}

# Builds take a lock, so that a benchmark started beside another build of this tree waits for
# it instead of racing it in the same build directory.
locked() { flock "${CELLC_BUILD_LOCK:-/tmp/cellc-build.lock}" "$@"; }

# The peers: PyTorch on the threaded OpenBLAS, and oneDNN's headers for bench/onednn_lstm.
locked scripts/setup.sh python3-torch python3-numpy libopenblas0-pthread libdnnl-dev

# A build directory configured before libdnnl-dev was installed has no onednn_lstm target.
if ! ninja -C "$BUILD" -t query bench/onednn_lstm >/dev/null 2>&1; then
  locked cmake -S . -B "$BUILD" >/dev/null
fi
locked ninja -C "$BUILD" --quiet bench/onednn_lstm bench/fma_peak | { grep -v '^ninja: no work to do' || true; }

if [ "${1:-}" = --stack ]; then
  shift
  exec /usr/bin/python3 bench/bench_stack.py "$BUILD/cellc" "$@"
fi
exec /usr/bin/python3 bench/bench_lstm.py "$BUILD/cellc" "$@"
