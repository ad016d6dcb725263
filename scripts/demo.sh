#!/usr/bin/env bash
# The main job: sets everything up, compiles examples/lstm.cell to a shared library with a C
# header, generates random inputs and PyTorch-layout weights, runs the library forward and
# backward (BPTT) on them, and checks its outputs against the reference interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BUILD=${CELLC_BUILD_DIR:-build}
WORK=${CELLC_DEMO_DIR:-out/demo}
CELLC="$BUILD/cellc"
rm -rf "$WORK"
echo "== cellc compile examples/lstm.cell --emit=plan"
"$CELLC" compile examples/lstm.cell --emit=plan
echo "== cellc compile examples/lstm.cell -o $WORK/liblstm.so"
"$CELLC" compile examples/lstm.cell -o "$WORK/liblstm.so"
echo "== cellc gen (random inputs, states, params and output gradients)"
"$CELLC" gen examples/lstm.cell --outputs "$WORK/in" --T 16 --B 4 --dim I=32 --dim H=64 --backward
echo "== cellc run $WORK/liblstm.so --backward (the compiled library)"
"$CELLC" run "$WORK/liblstm.so" --inputs "$WORK/in" --outputs "$WORK/out" --backward
echo "== cellc run examples/lstm.cell --backward (the reference interpreter, float64)"
"$CELLC" run examples/lstm.cell --inputs "$WORK/in" --outputs "$WORK/ref" --backward >/dev/null
/usr/bin/python3 - "$WORK" <<'PY'
import os, sys
import numpy as np
work = sys.argv[1]
worst = max((np.abs(np.load(f"{work}/out/{f}").astype(np.float64) - np.load(f"{work}/ref/{f}")).max(), f)
            for f in sorted(os.listdir(f"{work}/ref")))
ok = worst[0] <= 1e-4  # float32 library vs float64 interpreter, as compare_compiled.py
print(f"library vs interpreter: {len(os.listdir(work + '/ref'))} files, max abs difference "
      f"{worst[0]:.2e} ({worst[1]}): {'within' if ok else 'OVER'} the tolerance 1e-4")
sys.exit(0 if ok else 1)
PY
