#!/usr/bin/env python3
"""Dropout between the layers of a stack (`cellc run --backward --layers L --dropout P --seed S`)
against PyTorch with the same masks.

cellc draws each mask bit from a counter-based hash of (seed, layer, step, sample, unit)
(cellrt/Stack.h, dropoutKeeps); this script recomputes it in Python, builds the same stack in
torch layer by layer (one bidirectional nn.LSTM per layer, the mask applied to each layer's
input as nn.LSTM(dropout=P) does) over a ragged batch, and compares outputs, final states and
every gradient (max abs error <= 1e-5). It also checks that p = 0 equals a run without
dropout, that a run is reproducible by seed and differs with another seed, and that the masks
keep (1 - p) of the units within four standard deviations.

usage: compare_torch_dropout.py CELLC EXAMPLES_DIR WORK_DIR [--compiled]
"""
import os
import subprocess
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOL = 1e-5
T, B, I, H, L, P = 6, 5, 4, 7, 3, 0.3
LENGTHS = [4, 6, 1, 6, 3]
MASK64 = (1 << 64) - 1


def mix(z):
    z = (z + 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def keeps(seed, layer, t, sample, unit, p):
    h = mix(seed)
    for v in (layer, t, sample, unit):
        h = mix(h ^ v)
    return (h >> 11) * 2.0 ** -53 >= p


def mask(seed, layer, n, p):
    m = np.zeros((T, B, n))
    for t in range(T):
        for s in range(B):
            for u in range(n):
                m[t, s, u] = keeps(seed, layer, t, s, u, p)
    return m


def save(path, a):
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def f32(t):
    return t.float().double()


def run(cellc, cell, indir, outdir, p, seed):
    subprocess.run([cellc, "run", cell, "--inputs", indir, "--outputs", outdir, "--backward",
                    "--layers", str(L), "--bidirectional", "--dropout", str(p), "--seed",
                    str(seed)], check=True, stdout=subprocess.DEVNULL)
    return {f: np.load(os.path.join(outdir, f)) for f in os.listdir(outdir)}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    cellc, examples, work = args[:3]
    os.makedirs(work, exist_ok=True)
    cell = os.path.join(examples, "lstm.cell")
    if "--compiled" in sys.argv:
        cell = os.path.join(work, "liblstm.so")
        subprocess.run([cellc, "compile", os.path.join(examples, "lstm.cell"), "-o", cell],
                       check=True, stdout=subprocess.DEVNULL)
    torch.manual_seed(7)
    layers = [torch.nn.LSTM(I if k == 0 else 2 * H, H, bidirectional=True).double()
              for k in range(L)]
    indir = os.path.join(work, "in")
    os.makedirs(indir, exist_ok=True)
    for k, mod in enumerate(layers):
        with torch.no_grad():
            for name, p in mod.named_parameters():
                p.copy_(f32(p.uniform_(-0.8, 0.8)))
                ours = {"weight": "W", "bias": "b"}[name.split("_")[0]] + "_" + \
                    name.split("_")[1] + f"_l{k}" + ("_reverse" if "reverse" in name else "")
                save(os.path.join(indir, ours + ".npy"), p.numpy())
    x = f32(torch.rand(T, B, I, dtype=torch.float64) * 2 - 1).requires_grad_()
    h0 = f32(torch.rand(2 * L, B, H, dtype=torch.float64) - 0.5).requires_grad_()
    c0 = f32(torch.rand(2 * L, B, H, dtype=torch.float64) - 0.5).requires_grad_()
    gy = f32(torch.rand(T, B, 2 * H, dtype=torch.float64) * 2 - 1)
    save(os.path.join(indir, "x.npy"), x.detach().numpy())
    save(os.path.join(indir, "h.init.npy"), h0.detach().numpy())
    save(os.path.join(indir, "c.init.npy"), c0.detach().numpy())
    save(os.path.join(indir, "grad_h.npy"), gy.numpy())
    np.save(os.path.join(indir, "lengths.npy"), np.array(LENGTHS, dtype=np.int64))

    seed = 12345
    got = run(cellc, cell, indir, os.path.join(work, "out"), P, seed)
    failures = 0

    # The reference: layer by layer, our masks on the inputs of layers 1.., packed sequences.
    lengths = torch.tensor(LENGTHS)
    inp, finals_h, finals_c, masks = x, [], [], []
    for k, mod in enumerate(layers):
        if k > 0:
            m = mask(seed, k, 2 * H, P)
            masks.append(m)
            inp = inp * torch.tensor(m) / (1 - P)
        y, (hn, cn) = mod(pack_padded_sequence(inp, lengths, enforce_sorted=False),
                          (h0[2 * k:2 * k + 2], c0[2 * k:2 * k + 2]))
        inp, _ = pad_packed_sequence(y, total_length=T)
        finals_h.append(hn), finals_c.append(cn)
    hn, cn = torch.cat(finals_h), torch.cat(finals_c)
    ((inp * gy).sum()).backward()
    pairs = {"h.npy": inp.detach().numpy(), "h.final.npy": hn.detach().numpy(),
             "c.final.npy": cn.detach().numpy(), "grad_x.npy": x.grad.numpy(),
             "grad_h.init.npy": h0.grad.numpy(), "grad_c.init.npy": c0.grad.numpy()}
    for k, mod in enumerate(layers):
        for name, p in mod.named_parameters():
            ours = {"weight": "W", "bias": "b"}[name.split("_")[0]] + "_" + \
                name.split("_")[1] + f"_l{k}" + ("_reverse" if "reverse" in name else "")
            pairs[f"grad_{ours}.npy"] = p.grad.numpy()
    worst = max(pairs, key=lambda f: np.abs(got[f] - pairs[f]).max())
    err = float(np.abs(got[worst] - pairs[worst]).max())
    ok = err <= TOL
    failures += not ok
    print(f"{'PASS' if ok else 'FAIL'} lstm L={L} bidirectional ragged dropout {P}: "
          f"{len(pairs)} tensors against torch with the same masks, max abs error {err:.2e} "
          f"({worst})")

    # The masks keep (1 - p) of the units.
    bits = np.concatenate([m.ravel() for m in masks])
    kept, sd = bits.mean(), np.sqrt(P * (1 - P) / bits.size)
    ok = abs(kept - (1 - P)) <= 4 * sd
    failures += not ok
    print(f"{'PASS' if ok else 'FAIL'} masks keep {kept:.4f} of {bits.size} units "
          f"(1 - p = {1 - P}, 4 sd = {4 * sd:.4f})")

    # p = 0 is no dropout; a seed reproduces a run, another seed changes it.
    none = run(cellc, cell, indir, os.path.join(work, "none"), 0.0, seed)
    plain = subprocess.run([cellc, "run", cell, "--inputs", indir, "--outputs",
                            os.path.join(work, "plain"), "--backward", "--layers", str(L),
                            "--bidirectional"], check=True, stdout=subprocess.DEVNULL)
    plain = {f: np.load(os.path.join(work, "plain", f)) for f in none}
    again = run(cellc, cell, indir, os.path.join(work, "again"), P, seed)
    other = run(cellc, cell, indir, os.path.join(work, "other"), P, seed + 1)
    checks = [("p = 0 equals no dropout", all(np.array_equal(none[f], plain[f]) for f in none)),
              ("the same seed gives the same run",
               all(np.array_equal(got[f], again[f]) for f in got)),
              ("another seed gives another run", not np.array_equal(got["h.npy"], other["h.npy"]))]
    for what, ok in checks:
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} {what}")
    print(f"dropout: {'all passed' if failures == 0 else str(failures) + ' failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
