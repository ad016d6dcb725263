#!/usr/bin/env python3
"""The sweep (issue 11): every example cell that has a peer, compiled by cellc, beside oneDNN and
PyTorch in one run, at 1 and 2 threads, inference and training, over DeepBench's I = H and
(B, T) pairs; a table with the FMA peak measured in the same run, a CSV, and a plot of the ratios.

usage: bench_sweep.py CELLC [--repeat N] [--threads 1,2] [--cells rnn_tanh,lstm,...]
                            [--shapes H,B,T;...] [--csv PATH] [--plot PATH] [--onednn PATH]

Peers: oneDNN (bench/onednn_rnn: vanilla RNN, LSTM, linear-before-reset GRU, peephole LSTM;
weights reordered once outside the timed calls) and PyTorch (nn.RNN, nn.LSTM, nn.GRU; for the
peephole and layer-norm LSTMs a per-step loop, eager and TorchScript, the faster kept), each at
its best split of threads between OpenMP and OpenBLAS (bench_lstm.py). cellc's inference uses
params packed once (--packed), as oneDNN's are reordered once; training packs in every call.
GF/s counts GEMM work only, 2·T·B·G·H·(I+H) forward (G gates: 1, 3 or 4) and twice that
backward; %pk is cellc's share of the measured peak, and a peer above the peak is flagged '!'.
ratio = the peer's time / cellc's (> 1: cellc is faster).
"""
import csv
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_lstm import (blas_description, cellc_times, fma_peaks, median_time,  # noqa: E402
                        onednn_binary, onednn_times, torch_configs)

GATES = {"rnn_tanh": 1, "lstm": 4, "gru": 3, "peephole_lstm": 4, "layernorm_lstm": 4}
ONEDNN = {"rnn_tanh", "lstm", "gru", "peephole_lstm"}  # layer norm: no oneDNN cell
# (H = I, B, T): DeepBench's pairs, small batches (weights re-read every step) to large ones.
SHAPES = [(256, 1, 100), (1024, 1, 25), (2048, 1, 25), (512, 4, 50), (1536, 4, 50),
          (256, 16, 100), (1024, 16, 25), (512, 64, 50), (1536, 64, 50), (2048, 32, 25)]


def gflop(cell, H, B, T, training):
    forward = 2.0 * T * B * GATES[cell] * H * (H + H) / 1e9
    return forward * (3 if training else 1)


# --- PyTorch, in a child process per thread split (the pools fix their sizes per process) ---

def torch_module(cell, I, H):
    import torch
    from torch import nn
    if cell in ("rnn_tanh", "lstm", "gru"):
        return {"rnn_tanh": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell](I, H), "nn"

    class Loop(nn.Module):
        """The example's equations, one step at a time (examples/<cell>.cell)."""

        def __init__(self):
            super().__init__()
            self.W_ih = nn.Parameter(torch.randn(4 * H, I) / H ** 0.5)
            self.W_hh = nn.Parameter(torch.randn(4 * H, H) / H ** 0.5)
            self.b = nn.Parameter(torch.zeros(4 * H))
            self.p = nn.Parameter(torch.randn(3, H) * 0.1)  # peepholes i, f, o
            self.g = nn.Parameter(torch.ones(3, 4 * H))  # layer norm gains: x, h, c
            self.s = nn.Parameter(torch.zeros(3, 4 * H))  # and biases
            self.peephole = cell == "peephole_lstm"

        def forward(self, x):
            T, B = x.shape[0], x.shape[1]
            h = torch.zeros(B, self.W_hh.shape[1])
            c = torch.zeros(B, self.W_hh.shape[1])
            n = h.shape[1]
            ux = x @ self.W_ih.t()
            outs = []
            for t in range(T):
                uh = h @ self.W_hh.t()
                if self.peephole:
                    z = ux[t] + uh + self.b
                    zi, zf, zg, zo = z.chunk(4, 1)
                    i = torch.sigmoid(zi + self.p[0] * c)
                    f = torch.sigmoid(zf + self.p[1] * c)
                    c = f * c + i * torch.tanh(zg)
                    h = torch.sigmoid(zo + self.p[2] * c) * torch.tanh(c)
                else:
                    nx = torch.layer_norm(ux[t], [4 * n], self.g[0], self.s[0], 1e-5)
                    nh = torch.layer_norm(uh, [4 * n], self.g[1], self.s[1], 1e-5)
                    zi, zf, zg, zo = (nx + nh + self.b).chunk(4, 1)
                    c = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
                    nc = torch.layer_norm(c, [n], self.g[2][:n], self.s[2][:n], 1e-5)
                    h = torch.sigmoid(zo) * torch.tanh(nc)
                outs.append(h)
            return torch.stack(outs)

    return Loop(), "loop"


def torch_child(cell, I, H, B, T, threads, repeat):
    """Prints PyTorch's inference and training times and the variant that gave them."""
    import torch
    torch.set_num_threads(threads)
    module, kind = torch_module(cell, I, H)
    variants = [("eager", module)]
    if kind == "loop":
        variants.append(("jit", torch.jit.script(module)))
    x = torch.randn(T, B, I)
    xg = x.clone().requires_grad_()
    best = [(float("inf"), ""), (float("inf"), "")]
    for name, m in variants:
        def first(y):
            return y[0] if isinstance(y, tuple) else y

        with torch.no_grad():
            infer = median_time(lambda: m(x), repeat)

        def train():
            first(m(xg)).sum().backward()

        best = [min(best[0], (infer, name)), min(best[1], (median_time(train, repeat), name))]
    print(best[0][0], best[1][0], best[0][1], best[1][1])


def torch_times(cell, H, B, T, threads, repeat):
    best = [(float("inf"), None), (float("inf"), None)]
    for omp, blas in torch_configs(threads):
        env = dict(os.environ, OMP_NUM_THREADS=str(omp), OPENBLAS_NUM_THREADS=str(blas))
        out = subprocess.run([sys.executable, __file__, "--torch-only", cell, str(H), str(H),
                              str(B), str(T), str(omp), str(repeat)], env=env, check=True,
                             capture_output=True, text=True).stdout.split()
        for k in range(2):
            label = f"{omp}/{blas}" + ("" if out[2 + k] == "eager" else " " + out[2 + k])
            best[k] = min(best[k], (float(out[k]), label))
    return best


# --- the table, the CSV and the plot ---

COLUMNS = ["cell", "H", "B", "T", "threads", "pass", "cellc_ms", "gflops", "peak_pct",
           "torch_ms", "torch_cfg", "torch_ratio", "onednn_ms", "onednn_ratio"]


def row_of(cell, shape, threads, name, cellc, torch_time, torch_cfg, onednn, peak):
    H, B, T = shape
    rate = gflop(cell, H, B, T, name == "train") / (cellc / 1e3)
    flag = lambda ms: gflop(cell, H, B, T, name == "train") / (ms / 1e3) > peak
    return {"cell": cell, "H": H, "B": B, "T": T, "threads": threads, "pass": name,
            "cellc_ms": cellc, "gflops": rate, "peak_pct": 100 * rate / peak,
            "torch_ms": torch_time, "torch_cfg": torch_cfg, "torch_ratio": torch_time / cellc,
            "onednn_ms": onednn, "onednn_ratio": onednn / cellc if onednn else None,
            "flags": "".join(p for p, ms in (("t", torch_time), ("o", onednn))
                             if ms and flag(ms)) + ("c" if flag(cellc) else "")}


def print_row(r):
    over = lambda who: "!" if who in r["flags"] else " "
    line = (f"{r['cell']:<15} {r['H']:5d} {r['B']:3d} {r['T']:4d} {r['threads']:3d} "
            f"{r['pass']:<5} | {r['cellc_ms']:9.2f}{over('c')}{r['gflops']:6.1f} "
            f"{r['peak_pct']:4.0f} | {r['torch_ms']:9.2f}{over('t')}{r['torch_cfg']:>12} "
            f"{r['torch_ratio']:6.2f}")
    if r["onednn_ms"]:
        line += f" | {r['onednn_ms']:9.2f}{over('o')}{r['onednn_ratio']:6.2f}"
    else:
        line += f" | {'—':>10} {'':>6}"
    print(line, flush=True)


def summary(rows):
    with_dnn = [r for r in rows if r["onednn_ratio"]]
    ahead = sum(r["onednn_ratio"] >= 1.0 for r in with_dnn)
    print(f"\nvs oneDNN: cellc ahead in {ahead} of {len(with_dnn)} rows", end="")
    for what, keep in (("B <= 4", lambda r: r["B"] <= 4), ("B >= 16", lambda r: r["B"] >= 16)):
        ratios = [r["onednn_ratio"] for r in with_dnn if keep(r)]
        if ratios:
            print(f"; median ratio {statistics.median(ratios):.2f} at {what}", end="")
    print(f"\nvs PyTorch: cellc ahead in {sum(r['torch_ratio'] >= 1 for r in rows)} of {len(rows)}"
          f" rows; median ratio {statistics.median(r['torch_ratio'] for r in rows):.2f}")


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.items()})


def write_plot(rows, path, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed (python3-matplotlib)")
        return
    cells = sorted({r["cell"] for r in rows}, key=list(GATES).index)
    fig, axes = plt.subplots(len(cells), 1, figsize=(11, 3.2 * len(cells)), squeeze=False)
    for ax, cell in zip(axes[:, 0], cells):
        mine = [r for r in rows if r["cell"] == cell]
        shapes = sorted({(r["H"], r["B"], r["T"]) for r in mine}, key=lambda s: (s[1], s[0]))
        x = {s: i for i, s in enumerate(shapes)}
        for (peer, marker) in (("onednn", "o"), ("torch", "s")):
            for thr in sorted({r["threads"] for r in mine}):
                for name, fill in (("infer", "full"), ("train", "none")):
                    pts = [(x[(r["H"], r["B"], r["T"])] + (thr - 1.5) * 0.15, r[peer + "_ratio"])
                           for r in mine if r["threads"] == thr and r["pass"] == name and
                           r[peer + "_ratio"]]
                    if pts:
                        ax.plot(*zip(*pts), marker=marker, linestyle="", fillstyle=fill,
                                label=f"{'oneDNN' if peer == 'onednn' else 'PyTorch'} "
                                      f"{name} {thr} thr")
        ax.axhline(1.0, color="gray", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(shapes)))
        ax.set_xticklabels([f"H={h}\nB={b} T={t}" for h, b, t in shapes], fontsize=7)
        ax.set_ylabel("peer time / cellc")
        ax.set_title(cell, fontsize=9)
        ax.legend(fontsize=6, ncol=4)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def option(args, name, default):
    return args[args.index(name) + 1] if name in args else default


def main():
    args = sys.argv[1:]
    if args[0] == "--torch-only":
        torch_child(args[1], *[int(a) for a in args[2:]])
        return 0
    cellc = args[0]
    repeat = int(option(args, "--repeat", "5"))
    threads = [int(t) for t in option(args, "--threads", "1,2").split(",")]
    cells = option(args, "--cells", ",".join(GATES)).split(",")
    shapes = [tuple(int(v) for v in s.split(",")) for s in option(args, "--shapes", ";".join(
        ",".join(map(str, s)) for s in SHAPES)).split(";")]
    work = tempfile.mkdtemp(prefix="cellc-sweep-")
    csv_path = option(args, "--csv", os.path.join(work, "sweep.csv"))
    plot_path = option(args, "--plot", os.path.join(work, "sweep.png"))
    onednn, onednn_version = onednn_binary(cellc, args)
    peaks, peak_lines = fma_peaks(cellc, threads)
    print(peak_lines)
    import torch
    print(f"torch {torch.__version__}, BLAS: {blas_description()}, {os.cpu_count()} cores, "
          f"median of {repeat} calls, times in ms")
    print(onednn_version if onednn else f"oneDNN not measured: {onednn_version}")
    print("ratio: the peer's time / cellc's (> 1: cellc is faster); torch cfg: OpenMP/OpenBLAS "
          "threads (jit: the TorchScript loop)")
    print(f"{'cell':<15} {'H':>5} {'B':>3} {'T':>4} {'thr':>3} {'pass':<5} | {'cellc':>9} "
          f"{'GF/s':>6} {'%pk':>4} | {'torch':>9} {'cfg':>12} {'ratio':>6} | {'oneDNN':>9} "
          f"{'ratio':>6}")
    rows = []
    for cell in cells:
        source = os.path.join(HERE, "..", "examples", cell + ".cell")
        lib = os.path.join(work, cell, f"lib{cell}.so")
        subprocess.run([cellc, "compile", source, "-o", lib], check=True,
                       stdout=subprocess.DEVNULL)
        for (H, B, T) in shapes:
            data = os.path.join(work, cell, f"in_{H}_{B}_{T}")
            subprocess.run([cellc, "gen", source, "--outputs", data, "--T", str(T), "--B",
                            str(B), "--dim", f"I={H}", "--dim", f"H={H}", "--backward"],
                           check=True, stdout=subprocess.DEVNULL)
            for t in threads:
                ci, ct = cellc_times(cellc, lib, data, os.path.join(work, "out"), t, repeat)
                (ti, ticfg), (tt, ttcfg) = torch_times(cell, H, B, T, t, repeat)
                dnn = (onednn_times(onednn, H, H, B, T, t, repeat, cell)
                       if onednn and cell in ONEDNN else None) or (None, None)
                for name, c, tm, cfg, o in (("infer", ci, ti, ticfg, dnn[0]),
                                            ("train", ct, tt, ttcfg, dnn[1])):
                    rows.append(row_of(cell, (H, B, T), t, name, c, tm, cfg, o, peaks[t]))
                    print_row(rows[-1])
    summary(rows)
    write_csv(rows, csv_path)
    print(f"wrote {csv_path}")
    write_plot(rows, plot_path, f"cellc vs peers ({peak_lines.splitlines()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
