#!/usr/bin/env python3
"""Random well-formed cells (random_cells.py's generator: every operator, splits, slices,
concatenations, sums, matvecs of states, inputs and computed values, fixed and free dims)
through `cellc compile --emit=mlir`, each module verified by mlir-opt-14.

usage: mlir_random.py CELLC MLIR_OPT WORK_DIR [--cells N] [--seed S]
Prints the failures (with the cell) and a summary; exits 1 if any module does not verify.
"""
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from random_cells import CellGen  # noqa: E402


def main():
    args = sys.argv[1:]
    opts = {"--cells": "100", "--seed": "1"}
    for k in list(opts):
        if k in args:
            i = args.index(k)
            opts[k] = args[i + 1]
            del args[i:i + 2]
    cellc, mlir_opt, work = args
    os.makedirs(work, exist_ok=True)
    n, seed0 = int(opts["--cells"]), int(opts["--seed"])
    failed = 0
    for seed in range(seed0, seed0 + n):
        text = CellGen(random.Random(seed)).text()
        path = os.path.join(work, f"cell{seed}.cell")
        with open(path, "w") as f:
            f.write(text)
        emit = subprocess.run([cellc, "compile", path, "--emit=mlir"], capture_output=True,
                              text=True)
        verify = subprocess.run([mlir_opt], input=emit.stdout, capture_output=True, text=True) \
            if emit.returncode == 0 else emit
        if verify.returncode != 0:
            failed += 1
            print(f"FAIL seed {seed}: {verify.stderr.strip().splitlines()[0]}\n{text}")
    print(f"mlir: {n} random cells from seed {seed0}, {n - failed} modules verified by "
          f"mlir-opt, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
