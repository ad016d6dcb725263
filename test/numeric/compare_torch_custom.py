#!/usr/bin/env python3
"""Runs `cellc run --backward` on the example cells that have no torch.nn module (peephole_lstm,
layernorm_lstm, indrnn, mgu, sru, minimal_rnn) and compares every output, final state and
gradient with the same formulas written with torch ops, differentiated by torch.autograd in
float64.

usage: compare_torch_custom.py CELLC EXAMPLES_DIR WORK_DIR [CELL...]

CELL may also be shared_weight or two_inputs (test/lit/numeric/Inputs: a matrix in two
products, a scalar param, two inputs, concat/split, min/max/clamp/abs/softplus/hard_sigmoid).
Each STEPS entry below transcribes one .cell file line by line; the files follow cellc run's
contract: <param>.npy as declared, <input>.npy [T, B, n], <state>.init.npy [B, n],
grad_<output>.npy [T, B, n] and grad_<state>.final.npy [B, n] in; <output>.npy,
<state>.final.npy, grad_<input>.npy, grad_<state>.init.npy and grad_<param>.npy out. Both
sides get the same float32-rounded data; cellc computes in float64 and writes float32, so it
is held to max|got - ref| <= 1e-5 for every tensor (the data are scaled so that no value grows
past ~50, where float32 rounding alone would reach 1e-5 / 4). cellc must write exactly the
expected files. Shapes (T, B, I, H) include T = 1, B = 1 and H = 1 (sru and shared_weight take
their input size from H). Prints one line per (cell, shape) and a summary; exits 1 if any
tensor is off.
"""
import os
import subprocess
import sys

import numpy as np
import torch

TOL = 1e-5
SHAPES = [  # (T, B, I, H)
    (1, 1, 1, 1),
    (1, 3, 5, 4),
    (4, 1, 3, 7),
    (7, 3, 10, 16),
    (12, 5, 33, 20),
]
sig, tanh = torch.sigmoid, torch.tanh


def mv(W, v):
    """W @ v for a batch of vectors v [B, n]: PyTorch's weight layout, W [rows, n]."""
    return v @ W.t()


def mean(v):
    """mean(v) of the cell language: over the vector, per sample; kept [B, 1] to broadcast."""
    return v.mean(dim=1, keepdim=True)


def peephole_lstm(x, s, p):
    z_i, z_f, z_g, z_o = (mv(p["W_ih"], x) + p["b_ih"] + mv(p["W_hh"], s["h"]) +
                          p["b_hh"]).chunk(4, dim=1)
    i = sig(z_i + p["p_i"] * s["c"])
    f = sig(z_f + p["p_f"] * s["c"])
    c2 = f * s["c"] + i * tanh(z_g)
    o = sig(z_o + p["p_o"] * c2)
    h2 = o * tanh(c2)
    return {"h": h2, "c": c2}, {"h": h2}


def layernorm_lstm(x, s, p):
    eps = 0.00001
    ux = mv(p["W_ih"], x)
    dx = ux - mean(ux)
    nx = p["g_x"] * dx * torch.rsqrt(mean(dx * dx) + eps) + p["s_x"]
    uh = mv(p["W_hh"], s["h"])
    dh = uh - mean(uh)
    nh = p["g_h"] * dh * torch.rsqrt(mean(dh * dh) + eps) + p["s_h"]
    i, f, g, o = (nx + nh + p["b"]).chunk(4, dim=1)
    c2 = sig(f) * s["c"] + sig(i) * tanh(g)
    dc = c2 - mean(c2)
    h2 = sig(o) * tanh(p["g_c"] * dc * torch.rsqrt(mean(dc * dc) + eps) + p["s_c"])
    return {"h": h2, "c": c2}, {"h": h2}


def indrnn(x, s, p):
    h2 = torch.relu(mv(p["W"], x) + p["u"] * s["h"] + p["b"])
    return {"h": h2}, {"h": h2}


def mgu(x, s, p):
    h = s["h"]
    f = sig(mv(p["W_f"], x) + mv(p["U_f"], h) + p["b_f"])
    n = tanh(mv(p["W_n"], x) + mv(p["U_n"], f * h) + p["b_n"])
    h2 = (1 - f) * h + f * n
    return {"h": h2}, {"h": h2}


def sru(x, s, p):
    c = s["c"]
    f = sig(mv(p["W_f"], x) + p["v_f"] * c + p["b_f"])
    c2 = f * c + (1 - f) * mv(p["W"], x)
    r = sig(mv(p["W_r"], x) + p["v_r"] * c + p["b_r"])
    return {"c": c2}, {"h": r * c2 + (1 - r) * x}


def minimal_rnn(x, s, p):
    h = s["h"]
    z = tanh(mv(p["W_x"], x) + p["b_z"])
    u = sig(mv(p["U_h"], h) + mv(p["U_z"], z) + p["b_u"])
    h2 = u * h + (1 - u) * z
    return {"h": h2}, {"h": h2}


def shared_weight(x, s, p, H):
    """test/lit/numeric/Inputs/shared_weight.cell: W in two products, a scalar param alpha."""
    z = mv(p["W"], x) + mv(p["W"], s["h"]) + p["b"]
    sp = torch.logaddexp(z, torch.zeros_like(z))  # softplus, without torch's cut-off at 20
    v = sp * p["alpha"] + torch.abs(torch.minimum(z, torch.tensor(0.5, dtype=z.dtype))) - \
        torch.maximum(z, torch.tensor(-0.5, dtype=z.dtype))
    h2 = torch.clamp(tanh(v), -0.9, 0.9) + torch.relu(z) / H
    return {"h": h2}, {"y": torch.log(torch.exp(h2) + 1) + torch.sqrt(h2 * h2 + 1)}


def two_inputs(xs, s, p):
    """test/lit/numeric/Inputs/two_inputs.cell: inputs x and u, states h and acc."""
    x, u = xs
    h = s["h"]
    z = mv(p["A"], torch.cat([x, u], dim=1))
    a, b = z.chunk(2, dim=1)
    mixed = mv(p["U"], torch.cat([a * tanh(h), b], dim=1))
    h2 = torch.nn.functional.hardsigmoid(mixed + p["g"]) * torch.rsqrt(mean(h * h) + 1)
    acc2 = s["acc"] + h2 * u.sum(dim=1, keepdim=True)
    return {"h": h2, "acc": acc2}, {"h": h2, "s": acc2}


def hh(d):
    return (d["H"], d["H"])


def h1(d):
    return (d["H"],)


def h4(d):
    return (4 * d["H"],)


def hi(d):
    return (d["H"], d["I"])


# name: (step, inputs, states, outputs, params, where). Inputs, states and outputs map a name
# to its size; params are (name, shape, kind) with kind the random range: "w" weights
# U(-s, s) with s = 1.6/sqrt(fan_in) (0.8 for fan_in <= 4), "v" vectors U(-0.8, 0.8), "g"
# layer-norm gains U(0.5, 1.5). Sizes and shapes are functions of the dims {I, J, H}. A step
# gets x (or a tuple of the inputs), the states and the params, each [B, n], and returns the
# next states and the outputs. where: "examples" or "lit" (test/lit/numeric/Inputs).
X_I, S_H = {"x": lambda d: d["I"]}, (lambda d: d["H"])
STEPS = {
    "peephole_lstm": (peephole_lstm, X_I, {"h": S_H, "c": S_H}, {"h": S_H}, [
        ("W_ih", lambda d: (4 * d["H"], d["I"]), "w"),
        ("W_hh", lambda d: (4 * d["H"], d["H"]), "w"), ("b_ih", h4, "v"), ("b_hh", h4, "v"),
        ("p_i", h1, "v"), ("p_f", h1, "v"), ("p_o", h1, "v")], "examples"),
    "layernorm_lstm": (layernorm_lstm, X_I, {"h": S_H, "c": S_H}, {"h": S_H}, [
        ("W_ih", lambda d: (4 * d["H"], d["I"]), "w"),
        ("W_hh", lambda d: (4 * d["H"], d["H"]), "w"), ("b", h4, "v"),
        ("g_x", h4, "g"), ("s_x", h4, "v"), ("g_h", h4, "g"), ("s_h", h4, "v"),
        ("g_c", h1, "g"), ("s_c", h1, "v")], "examples"),
    "indrnn": (indrnn, X_I, {"h": S_H}, {"h": S_H}, [
        ("W", hi, "w"), ("u", h1, "v"), ("b", h1, "v")], "examples"),
    "mgu": (mgu, X_I, {"h": S_H}, {"h": S_H}, [
        ("W_f", hi, "w"), ("U_f", hh, "w"), ("b_f", h1, "v"),
        ("W_n", hi, "w"), ("U_n", hh, "w"), ("b_n", h1, "v")], "examples"),
    "sru": (sru, {"x": S_H}, {"c": S_H}, {"h": S_H}, [
        ("W", hh, "w"), ("W_f", hh, "w"), ("W_r", hh, "w"), ("v_f", h1, "v"),
        ("v_r", h1, "v"), ("b_f", h1, "v"), ("b_r", h1, "v")], "examples"),
    "minimal_rnn": (minimal_rnn, X_I, {"h": S_H}, {"h": S_H}, [
        ("W_x", hi, "w"), ("b_z", h1, "v"), ("U_h", hh, "w"), ("U_z", hh, "w"),
        ("b_u", h1, "v")], "examples"),
    "shared_weight": (shared_weight, {"x": S_H}, {"h": S_H}, {"y": S_H}, [
        ("W", hh, "w"), ("alpha", lambda d: (), "v"), ("b", h1, "v")], "lit"),
    "two_inputs": (two_inputs, {"x": lambda d: d["I"], "u": lambda d: d["J"]},
                   {"h": S_H, "acc": S_H}, {"h": S_H, "s": S_H}, [
        ("A", lambda d: (2 * d["H"], d["I"] + d["J"]), "w"),
        ("U", lambda d: (d["H"], 2 * d["H"]), "w"), ("g", h1, "v")], "lit"),
}
DEFAULT = ["peephole_lstm", "layernorm_lstm", "indrnn", "mgu", "sru", "minimal_rnn"]


def save(path, a):
    np.save(path, np.array(a.detach().numpy(), dtype=np.float32, order="C"))  # keeps shape ()


def uniform(shape, lo, hi):
    """float64 uniform numbers that are exactly float32 values, so both sides read the same."""
    return (torch.rand(tuple(shape), dtype=torch.float64) * (hi - lo) + lo).float().double()


def run_case(cellc, cell_path, work, name, shape, seed):
    step, inputs, states, outputs, params, _ = STEPS[name]
    T, B, I, H = shape
    d = {"I": I, "J": I + 1, "H": H}  # J: two_inputs' second input
    torch.manual_seed(seed)
    p = {}
    for pname, shp, kind in params:
        dims = shp(d)
        if kind == "g":
            p[pname] = uniform(dims, 0.5, 1.5)
        else:
            scale = 0.8 if len(dims) < 2 or dims[1] <= 4 else 1.6 / dims[1] ** 0.5
            p[pname] = uniform(dims, -scale, scale)
        p[pname].requires_grad_()
    xs = {n: uniform((T, B, size(d)), -1, 1).requires_grad_() for n, size in inputs.items()}
    init = {s: uniform((B, size(d)), -0.5, 0.5).requires_grad_() for s, size in states.items()}
    gout = {o: uniform((T, B, size(d)), -1, 1) for o, size in outputs.items()}
    gfinal = {s: uniform((B, size(d)), -1, 1) for s, size in states.items()}

    tag = f"{name}_{T}_{B}_{I}_{H}"
    indir, outdir = os.path.join(work, tag + "_in"), os.path.join(work, tag + "_out")
    os.makedirs(indir, exist_ok=True)
    for n in xs:
        save(os.path.join(indir, f"{n}.npy"), xs[n])
    for s in states:
        save(os.path.join(indir, f"{s}.init.npy"), init[s])
        save(os.path.join(indir, f"grad_{s}.final.npy"), gfinal[s])
    for o in outputs:
        save(os.path.join(indir, f"grad_{o}.npy"), gout[o])
    for pname in p:
        save(os.path.join(indir, pname + ".npy"), p[pname])
    subprocess.run([cellc, "run", cell_path, "--inputs", indir, "--outputs", outdir,
                    "--backward"], check=True, stdout=subprocess.DEVNULL)

    # The reference: the step over the sequence, then autograd of the same loss cellc seeds.
    cur = dict(init)
    ys = {o: [] for o in outputs}
    for t in range(T):
        x_t = tuple(xs[n][t] for n in inputs)
        if name == "shared_weight":
            cur, out = step(x_t[0], cur, p, H)
        else:
            cur, out = step(x_t if len(x_t) > 1 else x_t[0], cur, p)
        for o in outputs:
            ys[o].append(out[o])
    ys = {o: torch.stack(v) for o, v in ys.items()}
    loss = sum((ys[o] * gout[o]).sum() for o in outputs) + \
        sum((cur[s] * gfinal[s]).sum() for s in states)
    loss.backward()

    expected = {}
    for o in outputs:
        expected[f"{o}.npy"] = ys[o]
    for s in states:
        expected[f"{s}.final.npy"] = cur[s]
        expected[f"grad_{s}.init.npy"] = init[s].grad
    for n in xs:
        expected[f"grad_{n}.npy"] = xs[n].grad
    for pname in p:
        expected[f"grad_{pname}.npy"] = p[pname].grad
    written = set(os.listdir(outdir))
    errors, problems = {}, []
    if written != set(expected):
        problems.append(f"files: missing {sorted(set(expected) - written)}, "
                        f"unexpected {sorted(written - set(expected))}")
    for f, ref in expected.items():
        if f not in written:
            continue
        got = np.load(os.path.join(outdir, f))
        ref = ref.detach().numpy()
        if got.shape != ref.shape:
            problems.append(f"{f}: shape {got.shape}, expected {ref.shape}")
            continue
        errors[f[:-4]] = float(np.abs(got.astype(np.float64) - ref).max())
    magnitude = max(float(t.detach().abs().max()) for t in expected.values())
    return errors, problems, magnitude


def main():
    cellc, examples, work = sys.argv[1:4]
    names = sys.argv[4:] or DEFAULT
    lit_inputs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lit", "numeric",
                              "Inputs")
    os.makedirs(work, exist_ok=True)
    failures = checks = 0
    for k, name in enumerate(names):
        where = examples if STEPS[name][5] == "examples" else lit_inputs
        for i, shape in enumerate(SHAPES):
            errors, problems, magnitude = run_case(cellc, os.path.join(where, name + ".cell"),
                                                   work, name, shape, seed=200 + 10 * i + k)
            worst = max(errors, key=errors.get)
            ok = not problems and all(e <= TOL for e in errors.values())
            checks += len(errors)
            failures += 0 if ok else 1
            T, B, I, H = shape
            d = {"I": I, "J": I + 1, "H": H}
            ins = ",".join(str(size(d)) for size in STEPS[name][1].values())
            print(f"{'PASS' if ok else 'FAIL'} {name:14s} T={T:<2d} B={B} in={ins:5s} H={H:<2d} "
                  f"max abs error {errors[worst]:.2e} ({worst}; {len(errors)} tensors, largest "
                  f"|value| {magnitude:.1f})")
            for p in problems:
                print(f"    {p}")
            if not ok:
                for key, v in sorted(errors.items()):
                    print(f"    {key}: {v:.3e}")
    print(f"custom cells: {checks} tensors compared against torch autograd, tolerance {TOL}: "
          f"{'all within' if failures == 0 else str(failures) + ' case(s) over'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
