#!/usr/bin/env python3
"""Compiled LSTM (cellc) beside torch.nn.LSTM on the CPU, in one run, as ratios.

usage: bench_lstm.py CELLC [--repeat N] [--threads 1,2] [--shapes I,H,B,T;...]
For each shape and thread count: inference forward, and training forward + backward.
Times are medians of N calls; cellc's come from `cellc run LIB.so --repeat N` (the library
call alone, measured inside the process), PyTorch's from time.perf_counter around the module
call, best over the ways it can split the threads between OpenMP and OpenBLAS.
ratio = PyTorch time / cellc time (> 1: cellc is faster).
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

SHAPES = [(512, 512, 64, 50), (256, 256, 16, 100)]


def median_time(fn, repeat):
    fn()  # warm up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2] * 1e3


def torch_configs(threads):
    """The ways PyTorch can spend `threads` cores: (intra-op OpenMP threads, OpenBLAS threads).
    With both at 2, the two pools fight over 2 cores and torch runs ~2x slower than on one
    thread, so we measure every split and keep PyTorch's best."""
    if threads == 1:
        return [(1, 1)]
    return [(threads, threads), (1, threads), (threads, 1)]


def torch_times(I, H, B, T, threads, repeat):
    """PyTorch's best (inference, training) times over torch_configs, and the config of each.
    Each config runs in a child process, because OpenMP and OpenBLAS fix their thread counts
    once per process."""
    best = [(float("inf"), None), (float("inf"), None)]
    for omp, blas in torch_configs(threads):
        env = dict(os.environ, OMP_NUM_THREADS=str(omp), OPENBLAS_NUM_THREADS=str(blas))
        out = subprocess.run([sys.executable, __file__, "--torch-only", str(I), str(H), str(B),
                              str(T), str(omp), str(repeat)], env=env, check=True,
                             capture_output=True, text=True).stdout.split()
        for k in range(2):
            best[k] = min(best[k], (float(out[k]), f"{omp}/{blas}"))
    return best


def torch_child(I, H, B, T, threads, repeat):
    torch.set_num_threads(threads)
    lstm = torch.nn.LSTM(I, H)
    x = torch.randn(T, B, I)
    with torch.no_grad():
        infer = median_time(lambda: lstm(x), repeat)
    xg = x.clone().requires_grad_()

    def train():
        y, (h, c) = lstm(xg)
        y.sum().backward()

    print(infer, median_time(train, repeat))


def blas_description():
    import ctypes
    libs = {line.split()[-1] for line in open("/proc/self/maps") if "blas" in line.lower()}
    core = ""
    for lib in libs:
        try:
            f = ctypes.CDLL(lib).openblas_get_corename
            f.restype = ctypes.c_char_p
            core = " (OpenBLAS kernels: " + f().decode() + ")"
        except (OSError, AttributeError):
            pass
    return ", ".join(sorted(os.path.basename(l) for l in libs)) + core


def cellc_times(cellc, lib, data, out, threads, repeat):
    def run(extra):
        text = subprocess.run([cellc, "run", lib, "--inputs", data, "--outputs", out,
                               "--threads", str(threads), "--repeat", str(repeat)] + extra,
                              check=True, capture_output=True, text=True).stdout
        m = re.search(r"forward ([0-9.e+-]+) ms(?:, backward ([0-9.e+-]+) ms)?", text)
        return float(m.group(1)), float(m.group(2) or 0)

    infer, _ = run([])
    fwd, bwd = run(["--backward"])
    return infer, fwd + bwd


def main():
    args = sys.argv[1:]
    if args[0] == "--torch-only":
        torch_child(*[int(a) for a in args[1:]])
        return
    cellc = args[0]
    repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 10
    threads = [int(t) for t in (args[args.index("--threads") + 1] if "--threads" in args
                                else "1,2").split(",")]
    shapes = SHAPES
    if "--shapes" in args:
        shapes = [tuple(int(v) for v in s.split(",")) for s in
                  args[args.index("--shapes") + 1].split(";")]
    here = os.path.dirname(os.path.abspath(__file__))
    work = tempfile.mkdtemp(prefix="cellc-bench-")
    lib = os.path.join(work, "liblstm.so")
    subprocess.run([cellc, "compile", os.path.join(here, "..", "examples", "lstm.cell"), "-o",
                    lib], check=True, stdout=subprocess.DEVNULL)
    print(f"torch {torch.__version__}, BLAS: {blas_description()}, {os.cpu_count()} cores, "
          f"median of {repeat} calls, times in ms")
    print("torch omp/blas: the OpenMP/OpenBLAS thread split of PyTorch's best time")
    print(f"{'I':>5} {'H':>5} {'B':>3} {'T':>4} {'thr':>3} | {'infer cellc':>11} {'torch':>8} "
          f"{'omp/blas':>8} {'ratio':>6} | {'train cellc':>11} {'torch':>8} {'omp/blas':>8} "
          f"{'ratio':>6}")
    for (I, H, B, T) in shapes:
        data = os.path.join(work, f"in_{I}_{H}_{B}_{T}")
        subprocess.run([cellc, "gen", os.path.join(here, "..", "examples", "lstm.cell"),
                        "--outputs", data, "--T", str(T), "--B", str(B), "--dim", f"I={I}",
                        "--dim", f"H={H}", "--backward"], check=True, stdout=subprocess.DEVNULL)
        for t in threads:
            ci, ct = cellc_times(cellc, lib, data, os.path.join(work, "out"), t, repeat)
            (ti, ticfg), (tt, ttcfg) = torch_times(I, H, B, T, t, repeat)
            print(f"{I:5d} {H:5d} {B:3d} {T:4d} {t:3d} | {ci:11.2f} {ti:8.2f} {ticfg:>8} "
                  f"{ti / ci:6.2f} | {ct:11.2f} {tt:8.2f} {ttcfg:>8} {tt / ct:6.2f}")


if __name__ == "__main__":
    main()
