#!/usr/bin/env bash
# The benchmark (not part of the tests): cellc's compiled LSTM beside PyTorch's and oneDNN's,
# in one run. Installs what it needs (only what is missing), builds cellc and bench/onednn_rnn,
# then runs bench/bench_lstm.py with this script's arguments (--repeat N, --threads 1,2, ...),
# or with --stack first, bench/bench_stack.py (stacks, both directions, ragged batches; --repeat
# N, --shape I,H,B,T), or with --sweep first, bench/bench_sweep.py (every cell with a peer over
# DeepBench's shapes, a CSV and a plot; --repeat N, --cells ..., --shapes H,B,T;..., --csv,
# --plot; a long run).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${CELLC_BUILD_DIR:-build}

# Builds take a lock, so that a benchmark started beside another build of this tree waits for
# it instead of racing it in the same build directory.
locked() { flock "${CELLC_BUILD_LOCK:-/tmp/cellc-build.lock}" "$@"; }

# The peers: PyTorch on the threaded OpenBLAS, and oneDNN's headers for bench/onednn_rnn.
locked scripts/setup.sh python3-torch python3-numpy libopenblas0-pthread libdnnl-dev \
  python3-matplotlib

# A build directory configured before libdnnl-dev was installed has no onednn_rnn target.
if ! ninja -C "$BUILD" -t query bench/onednn_rnn >/dev/null 2>&1; then
  locked cmake -S . -B "$BUILD" >/dev/null
fi
locked ninja -C "$BUILD" --quiet bench/onednn_rnn bench/fma_peak | { grep -v '^ninja: no work to do' || true; }

if [ "${1:-}" = --sweep ]; then
  shift
  exec /usr/bin/python3 bench/bench_sweep.py "$BUILD/cellc" "$@"
fi
if [ "${1:-}" = --stack ]; then
  shift
  exec /usr/bin/python3 bench/bench_stack.py "$BUILD/cellc" "$@"
fi
exec /usr/bin/python3 bench/bench_lstm.py "$BUILD/cellc" "$@"
