#!/usr/bin/env python3
"""Compiles example cells to shared libraries and checks them against the reference
interpreter, forward and backward, over shapes that exercise tails (dims that are not
multiples of the vector width or of the GEMM tiles, T=1, B=1, B=3, H=1).

usage: compare_compiled.py CELLC WORK_DIR CELL.cell... [--target T]
Tolerance: the library computes in float32 and the interpreter in float64, so each element
must satisfy |lib - ref| <= 1e-4 + 1e-4 * |ref| (np.allclose with rtol=atol=1e-4).
Prints one line per (cell, shape) and exits 1 on any mismatch.
"""
import os
import re
import subprocess
import sys

import numpy as np

# (T, B, first dim, other dims)
SHAPES = [(1, 1, 1, 1), (2, 3, 3, 5), (4, 2, 17, 33), (3, 5, 40, 64), (1, 1, 7, 1)]


def dims_of(cellc, cell):
    ir = subprocess.run([cellc, "compile", cell, "--emit=ir"], check=True,
                        capture_output=True, text=True).stdout
    header = re.match(r"cell \w+ \[([^\]]*)\]", ir)
    return [d.strip() for d in header.group(1).split(",") if d.strip()]


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def main():
    args = sys.argv[1:]
    target = "host"
    if "--target" in args:
        i = args.index("--target")
        target = args[i + 1]
        del args[i:i + 2]
    cellc, work, cells = args[0], args[1], args[2:]
    failures = 0
    compared = 0
    for cell in cells:
        name = os.path.splitext(os.path.basename(cell))[0]
        lib = os.path.join(work, name, f"lib{name}.so")
        run([cellc, "compile", cell, "-o", lib, "--target", target])
        dims = dims_of(cellc, cell)
        for k, (T, B, first, rest) in enumerate(SHAPES):
            sizes = {d: (first if i == 0 else rest) for i, d in enumerate(dims)}
            case = os.path.join(work, name, f"case{k}")
            dim_args = [a for d, v in sizes.items() for a in ("--dim", f"{d}={v}")]
            run([cellc, "gen", cell, "--outputs", case + "/in", "--T", str(T), "--B", str(B),
                 "--seed", str(7 + k), "--backward"] + dim_args)
            run([cellc, "run", cell, "--inputs", case + "/in", "--outputs", case + "/ref",
                 "--backward"])
            run([cellc, "run", lib, "--inputs", case + "/in", "--outputs", case + "/lib",
                 "--backward"])
            worst, worst_name, ok = 0.0, "", True
            for f in sorted(os.listdir(case + "/ref")):
                ref = np.load(os.path.join(case, "ref", f)).astype(np.float64)
                got = np.load(os.path.join(case, "lib", f)).astype(np.float64)
                compared += 1
                if ref.shape != got.shape or not np.allclose(got, ref, rtol=1e-4, atol=1e-4):
                    ok = False
                    print(f"    {f}: shape {got.shape} vs {ref.shape}, max abs error "
                          f"{np.abs(got - ref).max() if got.shape == ref.shape else 'n/a'}")
                err = np.abs(got - ref).max() if got.shape == ref.shape else np.inf
                if err > worst:
                    worst, worst_name = err, f
            failures += 0 if ok else 1
            shape = " ".join(f"{d}={v}" for d, v in sizes.items())
            print(f"{'PASS' if ok else 'FAIL'} {name:15s} T={T} B={B} {shape:12s} "
                  f"max abs error {worst:.2e} ({worst_name})")
    print(f"{compared} tensors of compiled libraries compared with the interpreter: "
          f"{'all within tolerance' if failures == 0 else str(failures) + ' case(s) failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
