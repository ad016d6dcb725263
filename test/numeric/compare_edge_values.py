#!/usr/bin/env python3
"""Compiled libraries against the reference interpreter on edge values: inputs with NaN,
±Inf, ±1e20, ±1e-40 (denormal) and 0 mixed into random data, forward and backward.

usage: compare_edge_values.py CELLC WORK_DIR CELL.cell... [--skip CELL:CASE]...
For every cell and every edge case, each output tensor must have NaN exactly where the
interpreter has NaN, the same infinities, and elsewhere |lib - ref| <= 1e-4 + 1e-4 * |ref|
(float32 kernels against a float64 reference). Prints one line per (cell, case) and exits 1 on
any mismatch. --skip leaves out a case where float32 itself must differ from the float64
reference (the lit test says which and why).
"""
import os
import re
import subprocess
import sys

import numpy as np

# name -> how the edge values enter x: every k-th element set to v, or x scaled by s.
CASES = [
    ("nan_every_7th", lambda x: put(x, 7, np.nan)),
    ("inf_every_5th", lambda x: put(x, 5, np.inf)),
    ("minus_inf_every_5th", lambda x: put(x, 5, -np.inf)),
    ("scaled_1e20", lambda x: x * np.float32(1e20)),
    ("minus_1e20_every_3rd", lambda x: put(x, 3, -1e20)),
    ("denormal_every_2nd", lambda x: put(x, 2, 1e-40)),
    ("minus_denormal_every_2nd", lambda x: put(x, 2, -1e-40)),
    ("zeros", lambda x: x * np.float32(0)),
]


def put(x, k, v):
    y = x.copy().reshape(-1)
    y[::k] = v
    return y.reshape(x.shape)


def dims_and_inputs(cellc, cell):
    """The cell's free dims and its input sequences, from its printed IR."""
    ir = subprocess.run([cellc, "compile", cell, "--emit=ir"], check=True,
                        capture_output=True, text=True).stdout
    header = re.match(r"cell \w+ \[([^\]]*)\]", ir)
    dims = [d.strip() for d in header.group(1).split(",") if d.strip()]
    return dims, re.findall(r"= input (\w+) :", ir)


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def agree(got, ref):
    """NaN where NaN, the same infinities, close elsewhere; and the worst finite error."""
    if got.shape != ref.shape:
        return False, np.inf
    nan_ok = np.array_equal(np.isnan(got), np.isnan(ref))
    inf = np.isinf(ref) | np.isinf(got)
    inf_ok = np.array_equal(got[inf], ref[inf])
    fin = ~np.isnan(ref) & ~inf
    close = np.allclose(got[fin], ref[fin], rtol=1e-4, atol=1e-4)
    worst = np.abs(got[fin] - ref[fin]).max() if fin.any() else 0.0
    return nan_ok and inf_ok and close, worst


def main():
    args, skip = sys.argv[1:], set()
    while "--skip" in args:
        i = args.index("--skip")
        skip.add(args[i + 1])
        del args[i:i + 2]
    cellc, work, cells = args[0], args[1], args[2:]
    failures = 0
    for cell in cells:
        name = os.path.splitext(os.path.basename(cell))[0]
        lib = os.path.join(work, name, f"lib{name}.so")
        run([cellc, "compile", cell, "-o", lib])
        dims, seqs = dims_and_inputs(cellc, cell)
        sizes = {d: (5 if i == 0 else 7) for i, d in enumerate(dims)}
        dim_args = [a for d, v in sizes.items() for a in ("--dim", f"{d}={v}")]
        base = os.path.join(work, name, "base")
        run([cellc, "gen", cell, "--outputs", base, "--T", "3", "--B", "2", "--backward"] +
            dim_args)
        for case, edit in CASES:
            if f"{name}:{case}" in skip:
                print(f"SKIP {name:15s} {case}")
                continue
            d = os.path.join(work, name, case)
            run(["sh", "-c", f"rm -rf '{d}' && mkdir -p '{d}' && cp -r '{base}' '{d}/in'"])
            for x in seqs:  # every input sequence
                path = os.path.join(d, "in", x + ".npy")
                np.save(path, edit(np.load(path)).astype(np.float32))
            run([cellc, "run", cell, "--inputs", d + "/in", "--outputs", d + "/ref", "--backward"])
            run([cellc, "run", lib, "--inputs", d + "/in", "--outputs", d + "/lib", "--backward"])
            bad = []
            for f in sorted(os.listdir(d + "/ref")):
                ref = np.load(os.path.join(d, "ref", f)).astype(np.float64)
                got = np.load(os.path.join(d, "lib", f)).astype(np.float64)
                ok, _ = agree(got, ref)
                if not ok:
                    bad.append(f"{f} (NaN {np.isnan(got).sum()} vs {np.isnan(ref).sum()})")
            failures += 1 if bad else 0
            print(f"{'PASS' if not bad else 'FAIL'} {name:15s} {case:26s} "
                  f"{'' if not bad else 'differ: ' + ', '.join(bad)}")
    print(f"edge values: {'all agree' if failures == 0 else str(failures) + ' case(s) differ'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
