#!/usr/bin/env python3
"""Compiled LSTM (cellc) beside torch.nn.LSTM and oneDNN's LSTM on the CPU, in one run, as ratios.

usage: bench_lstm.py CELLC [--repeat N] [--threads 1,2] [--shapes I,H,B,T;...] [--onednn PATH]
For each shape and thread count: inference forward, and training forward + backward.
Times are medians of N calls; cellc's come from `cellc run LIB.so --repeat N` (the library
call alone, measured inside the process; inference with --packed, the weights packed once
before the timed calls as oneDNN's are reordered once; training packs them in every call), PyTorch's from time.perf_counter around the module
call, best over the ways it can split the threads between OpenMP and OpenBLAS, oneDNN's from
bench/onednn_rnn.cpp (the primitive calls alone, weights reordered to oneDNN's preferred
layouts beforehand), found next to CELLC as bench/onednn_rnn unless --onednn says where.
ratio = peer's time / cellc time (> 1: cellc is faster).
GF/s is the GEMM work (2·T·B·4H·(I+H) flops forward, backward counted as twice that) over
cellc's time, and %pk that as a share of the FMA peak at the row's thread count, measured at the
start of the same run by bench/fma_peak; a peer whose time gives more than that peak is flagged
with '!' (the harness would be timing the wrong thing).
"""
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

# (I, H, B, T), DeepBench pairs: small batches (weights re-read every step) and large ones.
SHAPES = [(256, 256, 1, 100), (1024, 1024, 1, 25), (512, 512, 4, 50), (256, 256, 16, 100),
          (512, 512, 64, 50)]


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

    infer, _ = run(["--packed"])
    fwd, bwd = run(["--backward"])
    return infer, fwd + bwd


def lstm_gflop(I, H, B, T, training):
    """The GEMM work of an LSTM call in GFLOP: forward 2·T·B·4H·(I+H), backward twice that."""
    forward = 2.0 * T * B * 4 * H * (I + H) / 1e9
    return forward * (3 if training else 1)


def fma_peaks(cellc, threads):
    """{threads: measured FMA peak in GFLOP/s} from bench/fma_peak next to CELLC, and its lines."""
    path = os.path.join(os.path.dirname(os.path.abspath(cellc)), "bench", "fma_peak")
    text = subprocess.run([path] + [str(t) for t in threads], check=True, capture_output=True,
                          text=True).stdout
    peaks = {int(m.group(1)): float(m.group(2))
             for m in re.finditer(r"fma peak: (\d+) threads, ([0-9.]+) GFLOP/s", text)}
    return peaks, text.strip()


def onednn_binary(cellc, args):
    """The onednn_rnn program and its version line, or None and why it is not measured."""
    path = (args[args.index("--onednn") + 1] if "--onednn" in args else
            os.path.join(os.path.dirname(os.path.abspath(cellc)), "bench", "onednn_rnn"))
    if not os.access(path, os.X_OK):
        return None, f"no {path} (install libdnnl-dev and rebuild, or run scripts/bench.sh)"
    run = subprocess.run([path, "--version"], capture_output=True, text=True)
    if run.returncode != 0:
        return None, f"{path} --version failed: {run.stderr.strip()}"
    return path, run.stdout.strip()


def onednn_times(binary, I, H, B, T, threads, repeat, cell="lstm"):
    """oneDNN's (inference, training) times, or None where it fails (the reason goes to stderr).
    Debian's oneDNN runs on OpenMP (ldd: libgomp), so OMP_NUM_THREADS sets its threads."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    run = subprocess.run([binary, cell, str(I), str(H), str(B), str(T), str(repeat)], env=env,
                         capture_output=True, text=True)
    if run.returncode != 0:
        print(run.stderr.strip(), file=sys.stderr)
        return None
    return [float(v) for v in run.stdout.split()]


def print_header(repeat, onednn_version):
    print(f"torch {torch.__version__}, BLAS: {blas_description()}, {os.cpu_count()} cores, "
          f"median of {repeat} calls, times in ms")
    if onednn_version:
        print(onednn_version)
    print("ratio: the peer's time / cellc's (> 1: cellc is faster)")
    print("omp/blas: the OpenMP/OpenBLAS thread split of PyTorch's best time")
    line = (f"{'I':>5} {'H':>5} {'B':>3} {'T':>4} {'thr':>3} {'pass':<5} | {'cellc':>8} "
            f"{'GF/s':>6} {'%pk':>4} | {'torch':>8} {'omp/blas':>8} {'ratio':>6}")
    print(line + (f" | {'oneDNN':>8} {'ratio':>6}" if onednn_version else ""))


def print_row(shape, threads, name, cellc, torch_time, torch_cfg, onednn, peak):
    I, H, B, T = shape
    gflop = lstm_gflop(I, H, B, T, name == "train")
    rate = lambda ms: gflop / (ms / 1e3)
    over = lambda ms: "!" if rate(ms) > peak else " "  # faster than the cores can be
    line = (f"{I:5d} {H:5d} {B:3d} {T:4d} {threads:3d} {name:<5} | {cellc:8.2f}{over(cellc)}"
            f"{rate(cellc):6.1f} {100 * rate(cellc) / peak:4.0f} | "
            f"{torch_time:8.2f}{over(torch_time)}{torch_cfg:>8} {torch_time / cellc:6.2f}")
    if onednn == "failed":
        line += f" | {'failed':>8} {'':>6}"
    elif onednn is not None:
        line += f" | {onednn:8.2f}{over(onednn)}{onednn / cellc:6.2f}"
    print(line)


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
    onednn, onednn_version = onednn_binary(cellc, args)
    if onednn is None:
        print(f"oneDNN not measured: {onednn_version}")
    peaks, peak_lines = fma_peaks(cellc, threads)
    print(peak_lines)
    print_header(repeat, onednn_version if onednn else None)
    for (I, H, B, T) in shapes:
        data = os.path.join(work, f"in_{I}_{H}_{B}_{T}")
        subprocess.run([cellc, "gen", os.path.join(here, "..", "examples", "lstm.cell"),
                        "--outputs", data, "--T", str(T), "--B", str(B), "--dim", f"I={I}",
                        "--dim", f"H={H}", "--backward"], check=True, stdout=subprocess.DEVNULL)
        for t in threads:
            ci, ct = cellc_times(cellc, lib, data, os.path.join(work, "out"), t, repeat)
            (ti, ticfg), (tt, ttcfg) = torch_times(I, H, B, T, t, repeat)
            oi = ot = None
            if onednn:
                times = onednn_times(onednn, I, H, B, T, t, repeat)
                oi, ot = times if times else ("failed", "failed")
            print_row((I, H, B, T), t, "infer", ci, ti, ticfg, oi, peaks[t])
            print_row((I, H, B, T), t, "train", ct, tt, ttcfg, ot, peaks[t])


if __name__ == "__main__":
    main()
