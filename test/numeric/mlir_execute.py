#!/usr/bin/env python3
"""Runs the MLIR module of a cell (`cellc compile --emit=mlir`) and compares what its sequence
functions compute with the reference interpreter (`cellc run --backward --float64`).

The module's `@<cell>_forward` and `@<cell>_backward` are lowered with MLIR 14's passes
(bufferization, linalg to loops, to the LLVM dialect; results become out-params),
mlir-translate-14 and clang++-14 into a shared library (with memrefCopy, the one runtime
function the lowering calls, from the runtime of --backend mlir libraries), and called through ctypes with every memref passed as MLIR's
expanded descriptor (allocated, aligned, offset, sizes..., strides...). The dims are fixed with
-D (I=3, H=5, J=2: static sizes), T = 4, B = 3. Every output, final state and gradient must
agree within 1e-5 of max(1, max|ref|) (the module computes in float32).

usage: mlir_execute.py CELLC MLIR_OPT WORK_DIR [--random N] CELL...
--random N adds N random cells (random_cells.py's generator, seeds 1..N; their dims are 3).
"""
import ctypes
import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import random  # noqa: E402

from random_cells import CellGen, free_dims  # noqa: E402

PASSES = ["--linalg-bufferize", "--scf-bufferize", "--tensor-bufferize", "--func-bufferize",
          "--arith-bufferize", "--finalizing-bufferize", "--buffer-results-to-out-params",
          "--convert-linalg-to-loops", "--lower-affine", "--convert-scf-to-std",
          "--convert-math-to-llvm", "--convert-math-to-libm", "--convert-arith-to-llvm",
          "--convert-memref-to-llvm", "--convert-std-to-llvm", "--reconcile-unrealized-casts"]
RUNTIME = os.path.join(HERE, "..", "..", "runtime")
MEMREF_COPY = """#include "cellrt/MlirSequence.h"
extern "C" void memrefCopy(int64_t elem, const cellrt::mlir::UnrankedMemref *src,
                           const cellrt::mlir::UnrankedMemref *dst) {
  cellrt::mlir::memrefCopy(elem, src, dst);
}
"""
SIZES = {"I": 3, "H": 5, "J": 2}
T, B = 4, 3
TOL = 1e-5


def tool(name):
    return shutil.which(name) or os.path.join("/usr/lib/llvm-14/bin", name.replace("-14", ""))


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def build(cellc, mlir_opt, cell, defines, work):
    mlir = run([cellc, "compile", cell, "--emit=mlir"] + defines).stdout
    with open(os.path.join(work, "module.mlir"), "w") as f:
        f.write(mlir)
    run([mlir_opt, os.path.join(work, "module.mlir")] + PASSES +
        ["-o", os.path.join(work, "module.llvm.mlir")])
    run([tool("mlir-translate-14"), "--mlir-to-llvmir", os.path.join(work, "module.llvm.mlir"),
         "-o", os.path.join(work, "module.ll")])
    lib, shim = os.path.join(work, "libmodule.so"), os.path.join(work, "memref_copy.cpp")
    with open(shim, "w") as f:
        f.write(MEMREF_COPY)
    run([tool("clang++-14"), "-shared", "-fPIC", "-O1", "-Wno-override-module",
         os.path.join(work, "module.ll"), shim, "-I", RUNTIME, "-o", lib, "-lm"])
    return mlir, ctypes.CDLL(lib)


def signature(mlir, symbol):
    """[(argument name, type)], [result type] and the result names of `func @symbol`."""
    m = re.search(r"// [^\n]*; returns ([^\n]*)\n\s*func @" + symbol +
                  r"\((.*?)\) -> \((.*?)\)(?: attributes \{[^}]*\})? \{", mlir)
    args = [tuple(a.split(": ")) for a in m.group(2).split(", ")]
    return args, m.group(3).split(", "), m.group(1).split(", ")


def dims_of(t):
    if t == "f32":
        return []
    inner = re.match(r"tensor<(.*)f32>", t).group(1).rstrip("x")
    return inner.split("x") if inner else []


def shape_for(name, t):
    """The concrete shape of a sequence function's tensor: ? is T then B ([T][B][n]), or B
    for a state's batch ([B][n])."""
    dims = dims_of(t)
    batch = name.endswith((".final", ".init"))
    fill = [B] if batch else [T, B]
    out = []
    for d in dims:
        out.append(fill.pop(0) if d == "?" else int(d))
    return out


def memref(a):
    """MLIR's expanded memref descriptor of a C-contiguous float32 array."""
    p = ctypes.c_void_p(a.ctypes.data)
    strides = [s // 4 for s in a.strides]
    return [p, p, ctypes.c_int64(0)] + [ctypes.c_int64(n) for n in a.shape] + \
        [ctypes.c_int64(s) for s in strides]


def call(lib, symbol, args, results, names, values):
    """Calls `symbol` with the named arrays; returns its results (out-params) by name."""
    argv, outs = [], {}
    for name, t in args:
        key = name.lstrip("%")
        if t == "index":
            argv.append(ctypes.c_int64(T if key == "T.steps" else B))
        elif t == "f32":
            argv.append(ctypes.c_float(float(values[key])))
        else:
            a = np.ascontiguousarray(values[key], dtype=np.float32).reshape(shape_for(key, t))
            values[key] = a
            argv += memref(a)
    scalars = []  # f32 results stay return values (a struct of floats when several)
    for name, t in zip(names, results):
        if t == "f32":
            scalars.append(name)
            continue
        outs[name] = np.zeros(shape_for(name, t), dtype=np.float32)
        argv += memref(outs[name])
    fn = getattr(lib, symbol)
    if len(scalars) == 1:
        fn.restype = ctypes.c_float
    elif scalars:
        fn.restype = type("Floats", (ctypes.Structure,),
                          {"_fields_": [(f"f{i}", ctypes.c_float) for i in range(len(scalars))]})
    value = fn(*argv)
    for i, name in enumerate(scalars):
        outs[name] = np.float32(value if len(scalars) == 1 else getattr(value, f"f{i}"))
    return outs


def check_cell(cellc, mlir_opt, cell, work):
    os.makedirs(work, exist_ok=True)
    name = os.path.splitext(os.path.basename(cell))[0]
    defines = []
    for d in free_dims(cellc, cell):
        defines += ["-D", f"{d}={SIZES.get(d, 3)}"]
    mlir, lib = build(cellc, mlir_opt, cell, defines, work)
    cell_name = re.search(r"func @(\w+)_forward\(", mlir).group(1)
    run([cellc, "gen", cell, "--outputs", os.path.join(work, "in"), "--T", str(T), "--B", str(B),
         "--backward", "--seed", "7"] + defines)
    run([cellc, "run", cell, "--inputs", os.path.join(work, "in"), "--outputs",
         os.path.join(work, "ref"), "--backward", "--float64"] + defines)
    given = {f[:-4]: np.load(os.path.join(work, "in", f)) for f in os.listdir(
        os.path.join(work, "in"))}
    ref = {f[:-4]: np.load(os.path.join(work, "ref", f)) for f in os.listdir(
        os.path.join(work, "ref"))}
    values = dict(given)
    fwd = call(lib, cell_name + "_forward", *signature(mlir, cell_name + "_forward"), values)
    for k, v in fwd.items():  # the backward reads the saved values and the seeds
        values[k] = v
    for k, v in given.items():
        if k.startswith("grad_"):
            values["grad." + k[len("grad_"):]] = v
    bwd = call(lib, cell_name + "_backward", *signature(mlir, cell_name + "_backward"), values)
    got = {k: v for k, v in {**fwd, **bwd}.items() if not k.startswith("saved.")}
    worst, where = 0.0, ""
    for k, v in got.items():
        r = ref[k]
        err = float(np.abs(np.reshape(v, r.shape) - r).max()) / max(1.0, float(np.abs(r).max()))
        if err > worst:
            worst, where = err, k
    ok = worst <= TOL and set(got) == set(ref)
    print(f"{'PASS' if ok else 'FAIL'} {name}: {len(got)} tensors of the MLIR module's forward "
          f"and backward against the interpreter, max relative error {worst:.1e} ({where})")
    return ok


def main():
    args = sys.argv[1:]
    randoms = 0
    if "--random" in args:
        i = args.index("--random")
        randoms = int(args[i + 1])
        del args[i:i + 2]
    cellc, mlir_opt, work = args[:3]
    cells = args[3:]
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
            failed += not check_cell(cellc, mlir_opt, cell, os.path.join(work, name))
        except subprocess.CalledProcessError as e:
            failed += 1
            print(f"FAIL {name}: {' '.join(e.cmd[:2])}: {(e.stderr or '').strip()[:500]}")
    print(f"mlir execution: {len(cells)} cells, {len(cells) - failed} agree with the "
          f"interpreter")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
