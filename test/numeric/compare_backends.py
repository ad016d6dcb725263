#!/usr/bin/env python3
"""Builds each cell's library through both backends (`cellc compile -o`, Halide, and
`cellc compile --backend mlir -o`, MLIR 14) and checks that they agree: the same inputs given to
`cellc run LIB --backward` of each, every output, final state and gradient within 1e-5 of
max(1, max|halide|). Two code paths that share only the IR and the gradient, so a lowering bug
in either shows here. Shapes with tails: T = 1, B = 1, dims 1, 7, 17 and 3 or 5.

usage: compare_backends.py CELLC WORK_DIR [--random N] CELL...
--random N adds N random cells (random_cells.py's generator, seeds 1..N).
"""
import os
import random
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from random_cells import CellGen, free_dims  # noqa: E402

# (T, B, first dim, other dims)
SHAPES = [(1, 1, 1, 1), (3, 2, 7, 5), (2, 5, 17, 3)]
TOL = 1e-5


def run(cmd):
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def check_cell(cellc, cell, work):
    name = os.path.splitext(os.path.basename(cell))[0]
    libs = {}
    for backend in ("halide", "mlir"):
        libs[backend] = os.path.join(work, backend, f"lib{name}.so")
        run([cellc, "compile", cell, "--backend", backend, "-o", libs[backend]])
    dims = free_dims(cellc, cell)
    worst, where, tensors = 0.0, "", 0
    for k, (T, B, first, rest) in enumerate(SHAPES):
        case = os.path.join(work, f"case{k}")
        dim_args = [a for i, d in enumerate(dims)
                    for a in ("--dim", f"{d}={first if i == 0 else rest}")]
        run([cellc, "gen", cell, "--outputs", case + "/in", "--T", str(T), "--B", str(B),
             "--seed", str(11 + k), "--backward"] + dim_args)
        out = {}
        for backend, lib in libs.items():
            out[backend] = os.path.join(case, backend)
            run([cellc, "run", lib, "--inputs", case + "/in", "--outputs", out[backend],
                 "--backward"])
        files = sorted(os.listdir(out["halide"]))
        if files != sorted(os.listdir(out["mlir"])):
            return False, f"the backends wrote other files: {files}"
        for f in files:
            h = np.load(os.path.join(out["halide"], f)).astype(np.float64)
            m = np.load(os.path.join(out["mlir"], f)).astype(np.float64)
            if h.shape != m.shape:
                return False, f"{f}: shape {m.shape} (mlir) vs {h.shape} (halide)"
            # NaN where NaN (a cell may compute one on random inputs); equal elsewhere.
            if not np.array_equal(np.isnan(h), np.isnan(m)):
                return False, f"{f}: NaN in one backend only (T={T} B={B})"
            finite = ~np.isnan(h)
            err = float(np.abs(h - m)[finite].max(initial=0.0)) / max(
                1.0, float(np.abs(h)[finite].max(initial=0.0)))
            tensors += 1
            if err > worst:
                worst, where = err, f"{f} at T={T} B={B}"
    ok = worst <= TOL
    return ok, f"{tensors} tensors, max relative difference {worst:.1e} ({where})"


def main():
    args = sys.argv[1:]
    randoms = 0
    if "--random" in args:
        i = args.index("--random")
        randoms = int(args[i + 1])
        del args[i:i + 2]
    cellc, work, cells = args[0], args[1], args[2:]
    os.makedirs(work, exist_ok=True)
    for seed in range(1, randoms + 1):
        path = os.path.join(work, f"random{seed}.cell")
        with open(path, "w") as f:
            f.write(CellGen(random.Random(seed)).text())
        cells.append(path)
    failed = 0
    for cell in cells:
        name = os.path.splitext(os.path.basename(cell))[0]
        try:
            ok, what = check_cell(cellc, cell, os.path.join(work, name))
        except subprocess.CalledProcessError as e:
            ok, what = False, f"{' '.join(e.cmd[:3])}: {(e.stderr or '').strip()[:500]}"
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name}: {what}", flush=True)
    print(f"backends: {len(cells)} cells, {len(cells) - failed} agree (Halide and MLIR "
          f"libraries, forward and backward, within {TOL:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
