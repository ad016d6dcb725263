#!/usr/bin/env python3
"""Stacks, both directions and ragged batches of the compiled LSTM (cellc's stack call) beside
torch.nn.LSTM(num_layers, bidirectional) (padded, and over pack_padded_sequence for ragged
batches) and oneDNN's LSTM (bidirectional_concat, one primitive per layer: deeper layers read
2*H values), in one run, as ratios.

usage: bench_stack.py CELLC [--repeat N] [--shape I,H,B,T] [--onednn PATH]
Times are medians of N calls in ms, inference and training (forward + backward); cellc's from
`cellc run LIB.so --layers L [--bidirectional] --repeat N` (the library call alone, in the
process), PyTorch's from time.perf_counter around the module call (best of its OpenMP/OpenBLAS
thread splits, as in bench_lstm.py), oneDNN's from bench/onednn_rnn (the primitives alone;
summed over the layers). Ragged rows use lengths uniform in 1..T (the same for all three;
oneDNN has no ragged batches). ratio = peer's time / cellc's (> 1: cellc is faster). The last
lines check the goals of issue 12: ragged <= 0.6x padded; bidirectional on 2 threads <= 0.6x
twice the unidirectional time on 1; 2-layer bidirectional >= 1.0x oneDNN and >= 2x PyTorch.
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_lstm import fma_peaks, median_time, onednn_binary, torch_configs  # noqa: E402

# (layers, bidirectional, ragged, threads)
CASES = [(1, False, False, 1), (1, False, True, 1), (1, True, False, 1), (1, True, False, 2),
         (2, True, False, 1), (2, True, False, 2), (2, True, True, 2)]


def torch_child(I, H, B, T, L, bidir, lengths_file, threads, repeat):
    torch.set_num_threads(threads)
    lstm = torch.nn.LSTM(I, H, num_layers=L, bidirectional=bidir)
    x = torch.randn(T, B, I)
    lengths = torch.tensor(np.load(lengths_file)) if lengths_file != "-" else None

    def call(inp):
        if lengths is None:
            return lstm(inp)
        packed = torch.nn.utils.rnn.pack_padded_sequence(inp, lengths, enforce_sorted=False)
        y, state = lstm(packed)
        return torch.nn.utils.rnn.pad_packed_sequence(y, total_length=T)[0], state

    with torch.no_grad():
        infer = median_time(lambda: call(x), repeat)
    xg = x.clone().requires_grad_()

    def train():
        y, _ = call(xg)
        y.sum().backward()

    print(infer, median_time(train, repeat))


def torch_times(shape, L, bidir, lengths_file, threads, repeat):
    best = [float("inf"), float("inf")]
    for omp, blas in torch_configs(threads):
        env = dict(os.environ, OMP_NUM_THREADS=str(omp), OPENBLAS_NUM_THREADS=str(blas))
        out = subprocess.run([sys.executable, __file__, "--torch-only", *map(str, shape), str(L),
                              str(int(bidir)), lengths_file, str(omp), str(repeat)], env=env,
                             check=True, capture_output=True, text=True).stdout.split()
        best = [min(best[k], float(out[k])) for k in range(2)]
    return best


def onednn_times(binary, shape, L, bidir, threads, repeat):
    """Summed over the layers: layer 0 reads I values, deeper ones D*H."""
    I, H, B, T = shape
    D = 2 if bidir else 1
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    total = [0.0, 0.0]
    for layer in range(L):
        run = subprocess.run([binary, "lstm", str(I if layer == 0 else D * H), str(H), str(B),
                              str(T), str(repeat), str(D)], env=env, capture_output=True,
                             text=True)
        if run.returncode != 0:
            print(run.stderr.strip(), file=sys.stderr)
            return None
        total = [a + float(b) for a, b in zip(total, run.stdout.split())]
    return total


def cellc_times(cellc, lib, data, out, L, bidir, threads, repeat):
    def run(extra):
        text = subprocess.run([cellc, "run", lib, "--inputs", data, "--outputs", out,
                               "--threads", str(threads), "--repeat", str(repeat), "--layers",
                               str(L)] + (["--bidirectional"] if bidir else []) + extra,
                              check=True, capture_output=True, text=True).stdout
        m = re.search(r"forward ([0-9.e+-]+) ms(?:, backward ([0-9.e+-]+) ms)?", text)
        return float(m.group(1)), float(m.group(2) or 0)

    infer, _ = run([])
    fwd, bwd = run(["--backward"])
    return infer, fwd + bwd


def main():
    args = sys.argv[1:]
    if args[0] == "--torch-only":
        I, H, B, T, L, bidir = map(int, args[1:7])
        torch_child(I, H, B, T, L, bool(bidir), args[7], int(args[8]), int(args[9]))
        return
    cellc = args[0]
    repeat = int(args[args.index("--repeat") + 1]) if "--repeat" in args else 10
    shape = (512, 512, 16, 50)
    if "--shape" in args:
        shape = tuple(int(v) for v in args[args.index("--shape") + 1].split(","))
    I, H, B, T = shape
    here = os.path.dirname(os.path.abspath(__file__))
    cell = os.path.join(here, "..", "examples", "lstm.cell")
    work = tempfile.mkdtemp(prefix="cellc-bench-stack-")
    lib = os.path.join(work, "liblstm.so")
    subprocess.run([cellc, "compile", cell, "-o", lib], check=True, stdout=subprocess.DEVNULL)
    onednn, version = onednn_binary(cellc, args)
    peaks, peak_lines = fma_peaks(cellc, [1, 2])
    print(peak_lines)
    print(version if onednn else f"oneDNN not measured: {version}")
    print(f"torch {torch.__version__}, LSTM I={I} H={H} B={B} T={T}, median of {repeat} calls, "
          f"ms; ragged: lengths uniform in 1..T")
    print(f"{'L':>2} {'dir':>3} {'batch':<7} {'thr':>3} {'pass':<5} | {'cellc':>8} | "
          f"{'torch':>8} {'ratio':>6} | {'oneDNN':>8} {'ratio':>6}")
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, T + 1, size=B)
    results = {}
    for L, bidir, ragged, threads in CASES:
        data = os.path.join(work, f"in_{L}_{int(bidir)}_{int(ragged)}")
        if not os.path.isdir(data):
            subprocess.run([cellc, "gen", cell, "--outputs", data, "--T", str(T), "--B", str(B),
                            "--dim", f"I={I}", "--dim", f"H={H}", "--backward", "--layers",
                            str(L)] + (["--bidirectional"] if bidir else []),
                           check=True, stdout=subprocess.DEVNULL)
            if ragged:
                np.save(os.path.join(data, "lengths.npy"), lengths.astype(np.int64))
        lengths_file = os.path.join(data, "lengths.npy") if ragged else "-"
        ours = cellc_times(cellc, lib, data, os.path.join(work, "out"), L, bidir, threads, repeat)
        theirs = torch_times(shape, L, bidir, lengths_file, threads, repeat)
        dnn = onednn_times(onednn, shape, L, bidir, threads, repeat) if onednn and not ragged \
            else None
        results[L, bidir, ragged, threads] = (ours, theirs, dnn)
        for k, name in enumerate(["infer", "train"]):
            line = (f"{L:2d} {2 if bidir else 1:3d} {'ragged' if ragged else 'padded':<7} "
                    f"{threads:3d} {name:<5} | {ours[k]:8.2f} | {theirs[k]:8.2f} "
                    f"{theirs[k] / ours[k]:6.2f}")
            line += f" | {dnn[k]:8.2f} {dnn[k] / ours[k]:6.2f}" if dnn else f" | {'-':>8} {'':>6}"
            print(line)
    print(f"Σ lengths / (T·B) = {lengths.sum() / (T * B):.2f}")

    def goal(what, value, bound, above=False):
        ok = value >= bound if above else value <= bound
        print(f"goal {what}: {value:.2f} ({'>=' if above else '<='} {bound}: "
              f"{'met' if ok else 'NOT met'})")

    for k, name in enumerate(["inference", "training"]):
        pad, rag = results[1, False, False, 1][0][k], results[1, False, True, 1][0][k]
        goal(f"ragged / padded, {name}", rag / pad, 0.6)
        uni, bi2 = results[1, False, False, 1][0][k], results[1, True, False, 2][0][k]
        goal(f"bidirectional on 2 threads / (2 x unidirectional on 1), {name}", bi2 / (2 * uni),
             0.6)
        ours, theirs, dnn = results[2, True, False, 2]
        if dnn:
            goal(f"2-layer bidirectional, oneDNN / cellc on 2 threads, {name}", dnn[k] / ours[k],
                 1.0, above=True)
        goal(f"2-layer bidirectional, PyTorch / cellc on 2 threads, {name}", theirs[k] / ours[k],
             2.0, above=True)


if __name__ == "__main__":
    main()
