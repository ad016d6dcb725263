#!/usr/bin/env bash
# The main job: sets everything up, then checks examples/lstm.cell, generates random inputs
# and PyTorch-layout weights for it, and runs it forward and backward, printing what it did.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD=${CELLC_BUILD_DIR:-build}
WORK=${CELLC_DEMO_DIR:-out/demo}
rm -rf "$WORK"
echo "== cellc compile examples/lstm.cell --emit=ir"
"$BUILD/cellc" compile examples/lstm.cell --emit=ir
echo "== cellc gen (random inputs, states, params and output gradients)"
"$BUILD/cellc" gen examples/lstm.cell --outputs "$WORK/in" --T 16 --B 4 --dim I=32 --dim H=64 --backward
echo "== cellc run --backward"
"$BUILD/cellc" run examples/lstm.cell --inputs "$WORK/in" --outputs "$WORK/out" --backward
