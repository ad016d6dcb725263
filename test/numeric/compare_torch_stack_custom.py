#!/usr/bin/env python3
"""Cells without a torch.nn module (peephole and layer-norm LSTMs, MGU, IndRNN, minimal RNN),
stacked and bidirectional over ragged batches: `cellc run --backward --layers L
[--bidirectional]` with lengths.npy against a plain torch autograd loop in float64 built from
the step functions of compare_torch_custom.py.

The reference knows nothing of packing: each layer and direction runs the step over all T
steps, keeping a sample's state (and giving 0 as its output) once past its length; the
reverse direction runs on each sample's valid steps reversed, and its outputs are put back in
time order. Layer k + 1 reads [forward, reverse] of layer k's output.

usage: compare_torch_stack_custom.py CELLC EXAMPLES_DIR WORK_DIR [--compiled]
Prints one line per case; exits 1 if any tensor differs by more than 1e-5: absolutely for the
interpreter (float64), relative to max(1, max|ref|) for a library (float32: the layer-norm
LSTM's gradients reach 13 through two normalised layers, where float32 sums of a few hundred
terms err by 2e-5 to 5e-5 absolutely, 3e-6 to 5e-6 relatively; measured 2026-12-07).
"""
import os
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_torch_custom import STEPS, save, uniform  # noqa: E402

TOL = 1e-5
T, B, I, H = 5, 4, 3, 6
LENGTHS = [3, 5, 1, 4]
CELLS = ["peephole_lstm", "layernorm_lstm", "mgu", "indrnn", "minimal_rnn"]
CASES = [(2, True, True), (3, False, True), (2, True, False)]  # layers, bidirectional, ragged


def reverse_valid(x, lengths):
    """Each sample's first len steps reversed, zero after: x [T, B, n]."""
    out = torch.zeros_like(x)
    for s, n in enumerate(lengths):
        out[:n, s] = x[:n, s].flip(0)
    return out


def run_direction(step, x, init, p, lengths, states, out_name):
    """The step over T steps; a sample past its length keeps its state and outputs 0."""
    cur, ys = dict(init), []
    for t in range(T):
        live = torch.tensor([t < n for n in lengths], dtype=torch.float64)[:, None]
        nxt, out = step(x[t], cur, p)
        cur = {s: live * nxt[s] + (1 - live) * cur[s] for s in states}
        ys.append(live * out[out_name])
    return torch.stack(ys), cur


def params_for(params, d, stacked, layer, direction):
    p, files = {}, {}
    for pname, shp, kind in params:
        dims = shp(d)
        if kind == "g":
            v = uniform(dims, 0.5, 1.5)
        else:
            scale = 0.8 if len(dims) < 2 or dims[1] <= 4 else 1.6 / dims[1] ** 0.5
            v = uniform(dims, -scale, scale)
        p[pname] = v.requires_grad_()
        files[pname] = pname + (f"_l{layer}" + ("_reverse" if direction else "") if stacked else "")
    return p, files


def run_case(cellc, cell, work, name, layers, bidir, ragged, seed):
    step, inputs, states, outputs, params, _ = STEPS[name]
    (xname,), (oname,) = inputs, outputs
    D = 2 if bidir else 1
    lengths = LENGTHS if ragged else [T] * B
    torch.manual_seed(seed)
    tag = f"{name}_L{layers}{'_bi' if bidir else ''}{'_ragged' if ragged else ''}"
    indir, outdir = os.path.join(work, tag + "_in"), os.path.join(work, tag + "_out")
    os.makedirs(indir, exist_ok=True)
    P = {}
    for k in range(layers):
        d = {"I": I if k == 0 else D * H, "H": H}
        for r in range(D):
            p, files = params_for(params, d, True, k, r)
            P[k, r] = (p, files)
            for pname in p:
                save(os.path.join(indir, files[pname] + ".npy"), p[pname])
    x = uniform((T, B, I), -1, 1).requires_grad_()
    init = {s: uniform((layers * D, B, H), -0.5, 0.5).requires_grad_() for s in states}
    gy = uniform((T, B, D * H), -1, 1)
    gfinal = {s: uniform((layers * D, B, H), -1, 1) for s in states}
    save(os.path.join(indir, xname + ".npy"), x)
    save(os.path.join(indir, f"grad_{oname}.npy"), gy)
    for s in states:
        save(os.path.join(indir, f"{s}.init.npy"), init[s])
        save(os.path.join(indir, f"grad_{s}.final.npy"), gfinal[s])
    if ragged:
        np.save(os.path.join(indir, "lengths.npy"), np.array(lengths, dtype=np.int64))
    subprocess.run([cellc, "run", cell, "--inputs", indir, "--outputs", outdir, "--backward",
                    "--layers", str(layers)] + (["--bidirectional"] if bidir else []),
                   check=True, stdout=subprocess.DEVNULL)

    inp, finals = x, {s: [] for s in states}
    for k in range(layers):
        halves = []
        for r in range(D):
            p = P[k, r][0]
            seq = reverse_valid(inp, lengths) if r else inp
            i0 = {s: init[s][k * D + r] for s in states}
            y, fin = run_direction(step, seq, i0, p, lengths, states, oname)
            halves.append(reverse_valid(y, lengths) if r else y)
            for s in states:
                finals[s].append(fin[s])
        inp = torch.cat(halves, dim=2)
    finals = {s: torch.stack(v) for s, v in finals.items()}
    loss = (inp * gy).sum() + sum((finals[s] * gfinal[s]).sum() for s in states)
    loss.backward()

    def ours(f):
        return np.load(os.path.join(outdir, f))

    pairs = {oname: (ours(oname + ".npy"), inp.detach().numpy()),
             "grad_" + xname: (ours(f"grad_{xname}.npy"), x.grad.numpy())}
    for s in states:
        pairs[s + ".final"] = (ours(f"{s}.final.npy"), finals[s].detach().numpy())
        pairs[f"grad_{s}.init"] = (ours(f"grad_{s}.init.npy"), init[s].grad.numpy())
    for (k, r), (p, files) in P.items():
        for pname in p:
            pairs["grad_" + files[pname]] = (ours(f"grad_{files[pname]}.npy"),
                                             p[pname].grad.numpy())
    return tag, pairs


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    compiled = "--compiled" in sys.argv
    cellc, examples, work = args[:3]
    os.makedirs(work, exist_ok=True)
    failures = checks = 0
    for n, name in enumerate(CELLS):
        cell = os.path.join(examples, name + ".cell")
        if compiled:
            lib = os.path.join(work, f"lib{name}.so")
            subprocess.run([cellc, "compile", cell, "-o", lib], check=True,
                           stdout=subprocess.DEVNULL)
            cell = lib
        for c, (layers, bidir, ragged) in enumerate(CASES):
            tag, pairs = run_case(cellc, cell, work, name, layers, bidir, ragged,
                                  seed=300 + 10 * n + c)
            scale = (lambda ref: max(1.0, float(np.abs(ref).max()))) if compiled else \
                (lambda ref: 1.0)
            errors = {k: float(np.abs(got - ref).max()) / scale(ref) if got.shape == ref.shape
                      else float("inf") for k, (got, ref) in pairs.items()}
            worst = max(errors, key=errors.get)
            ok = errors[worst] <= TOL
            checks += len(errors)
            failures += not ok
            kind = "relative" if compiled else "abs"
            print(f"{'PASS' if ok else 'FAIL'} {tag:30s} max {kind} error {errors[worst]:.2e} "
                  f"({worst}; {len(errors)} tensors)")
    what = "compiled libraries" if compiled else "reference interpreter"
    print(f"{what}, custom stacks: {checks} tensors compared against torch loops, tolerance "
          f"{TOL}: {'all within' if failures == 0 else str(failures) + ' case(s) over'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
