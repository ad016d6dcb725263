#!/usr/bin/env python3
"""Runs `cellc run --backward --layers L [--bidirectional]` (with lengths.npy for a ragged batch)
on rnn_tanh, lstm and gru and compares every output and gradient with
torch.nn.RNN/LSTM/GRU(num_layers=L, bidirectional=...) over pack_padded_sequence(
enforce_sorted=False) and torch.autograd on the same data, in float64.

usage: compare_torch_stack.py CELLC EXAMPLES_DIR WORK_DIR [--compiled]
With --compiled each cell is compiled to a library first and the library runs the stack.
Files follow PyTorch's state_dict one to one: weight_ih_l1_reverse is W_ih_l1_reverse.npy,
states are [L*D, B, H], the output [T, B, D*H] (zero past a sample's length).
Prints one line per case and exits 1 if any tensor differs by more than 1e-5.
"""
import os
import subprocess
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

TOL = 1e-5
T, B, I, H = 5, 4, 3, 6
LENGTHS = [3, 5, 1, 4]  # unsorted, with 1 and T
MODULES = {"rnn_tanh": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
OURS = {"weight_ih": "W_ih", "weight_hh": "W_hh", "bias_ih": "b_ih", "bias_hh": "b_hh"}


def save(path, a):
    np.save(path, np.ascontiguousarray(a, dtype=np.float32))


def f32(t):
    """A float64 tensor holding float32 values, so both sides start from the same numbers."""
    return t.float().double()


def run_case(cellc, cell, work, name, layers, bidir, ragged, seed):
    D = 2 if bidir else 1
    torch.manual_seed(seed)
    kwargs = {"nonlinearity": "tanh"} if name == "rnn_tanh" else {}
    mod = MODULES[name](I, H, num_layers=layers, bidirectional=bidir, **kwargs).double()
    with torch.no_grad():
        for p in mod.parameters():
            p.copy_(f32(p.uniform_(-0.8, 0.8)))
    states = ["h", "c"] if name == "lstm" else ["h"]
    stacked = layers * D > 1  # else the one-layer names and [B, H] states
    x = f32(torch.rand(T, B, I, dtype=torch.float64) * 2 - 1).requires_grad_()
    init = {s: f32(torch.rand(layers * D, B, H, dtype=torch.float64) - 0.5).requires_grad_()
            for s in states}
    gy = f32(torch.rand(T, B, D * H, dtype=torch.float64) * 2 - 1)
    gfinal = {s: f32(torch.rand(layers * D, B, H, dtype=torch.float64) * 2 - 1) for s in states}
    lengths = LENGTHS if ragged else [T] * B

    tag = f"{name}_L{layers}{'_bi' if bidir else ''}{'_ragged' if ragged else ''}"
    indir, outdir = os.path.join(work, tag + "_in"), os.path.join(work, tag + "_out")
    os.makedirs(indir, exist_ok=True)
    state_file = (lambda a: a) if stacked else (lambda a: a[0])
    save(os.path.join(indir, "x.npy"), x.detach().numpy())
    save(os.path.join(indir, "grad_h.npy"), gy.numpy())
    for s in states:
        save(os.path.join(indir, f"{s}.init.npy"), state_file(init[s].detach().numpy()))
        save(os.path.join(indir, f"grad_{s}.final.npy"), state_file(gfinal[s].numpy()))
    if ragged:
        np.save(os.path.join(indir, "lengths.npy"), np.array(lengths, dtype=np.int64))
    names = {}
    for pname, p in mod.named_parameters():
        base, layer = pname.rsplit("_l", 1)  # weight_ih, 0[_reverse]
        ours = OURS[base] + ("_l" + layer if stacked else "")
        names[pname] = ours
        save(os.path.join(indir, ours + ".npy"), p.detach().numpy())
    cmd = [cellc, "run", cell, "--inputs", indir, "--outputs", outdir, "--backward",
           "--layers", str(layers)] + (["--bidirectional"] if bidir else [])
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    hx = (init["h"], init["c"]) if name == "lstm" else init["h"]
    y, final = mod(packed, hx)
    y, _ = pad_packed_sequence(y, total_length=T)
    finals = {"h": final[0], "c": final[1]} if name == "lstm" else {"h": final}
    loss = (y * gy).sum() + sum((finals[s] * gfinal[s]).sum() for s in states)
    loss.backward()

    def ours(f):
        return np.load(os.path.join(outdir, f))

    pairs = {"h": (ours("h.npy"), y.detach().numpy()),
             "grad_x": (ours("grad_x.npy"), x.grad.numpy())}
    for s in states:
        pairs[f"{s}.final"] = (ours(f"{s}.final.npy"), state_file(finals[s].detach().numpy()))
        pairs[f"grad_{s}.init"] = (ours(f"grad_{s}.init.npy"), state_file(init[s].grad.numpy()))
    for pname, p in mod.named_parameters():
        pairs["grad_" + names[pname]] = (ours(f"grad_{names[pname]}.npy"), p.grad.numpy())
    return tag, pairs


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    compiled = "--compiled" in sys.argv
    cellc, examples, work = args[:3]
    os.makedirs(work, exist_ok=True)
    failures = checks = 0
    for name in MODULES:
        cell = os.path.join(examples, name + ".cell")
        if compiled:
            cell = os.path.join(work, f"lib{name}.so")
            subprocess.run([cellc, "compile", os.path.join(examples, name + ".cell"), "-o", cell],
                           check=True, stdout=subprocess.DEVNULL)
        seed = 0
        for layers in (1, 2, 3):
            for bidir in (False, True):
                for ragged in (False, True):
                    seed += 1
                    tag, pairs = run_case(cellc, cell, work, name, layers, bidir, ragged, seed)
                    errors = {}
                    for k, (got, ref) in pairs.items():
                        errors[k] = (float(np.abs(got - ref).max()) if got.shape == ref.shape
                                     else float("inf"))
                    worst = max(errors, key=errors.get)
                    ok = errors[worst] <= TOL
                    checks += len(errors)
                    failures += 0 if ok else 1
                    print(f"{'PASS' if ok else 'FAIL'} {tag:24s} max abs error "
                          f"{errors[worst]:.2e} ({worst}; {len(errors)} tensors)")
                    if not ok:
                        for k, v in sorted(errors.items()):
                            print(f"    {k}: {v:.3e} {pairs[k][0].shape} {pairs[k][1].shape}")
    what = "compiled libraries" if compiled else "reference interpreter"
    print(f"{what}, stacks: {checks} tensors compared against PyTorch, tolerance {TOL}: "
          f"{'all within' if failures == 0 else str(failures) + ' case(s) over'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
