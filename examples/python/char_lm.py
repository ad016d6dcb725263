#!/usr/bin/env python3
"""A character-level language model trained on the GPL-3 text every Debian machine has
(/usr/share/common-licenses/GPL-3): embedding -> a recurrent cell compiled by cellc -> linear,
next-character cross-entropy, Adam. Prints the loss and the time per step.

    /usr/bin/python3 examples/python/char_lm.py [--cell examples/lstm.cell] [--steps 300]
    /usr/bin/python3 examples/python/char_lm.py --compare      # the same model on torch.nn.LSTM
    /usr/bin/python3 examples/python/char_lm.py --cell examples/layernorm_lstm.cell
    /usr/bin/python3 examples/python/char_lm.py --compare-loop # its PyTorch loop
    /usr/bin/python3 -m torch.distributed.run --standalone --nproc_per_node 2 \
        --redirects 1 --tee 1 examples/python/char_lm.py --ddp

--cell takes any .cell file with one input and one output (the layer-norm LSTM, a GRU, your
own). With --ddp each of the processes (gloo backend, DistributedDataParallel) trains on its
share of every step's batch and the threads are split between them; the result is the training
of one process on the combined batch (--redirects 1 --tee 1: Debian's torch 1.13 on Python 3.11
cannot parse the default "0"). --summary FILE writes the losses (and with --ddp, whether
the ranks' params are identical) as JSON. The last line says whether the loss fell below
--bound (default 2.5 nats: a unigram model of the text is ~3.0, the first step ~4.3).
"""
import argparse
import json
import os
import sys
import time

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import cellc  # noqa: E402
import cellc.torch  # noqa: E402

TEXT = "/usr/share/common-licenses/GPL-3"


class LayerNormLSTMLoop(nn.Module):
    """examples/layernorm_lstm.cell as PyTorch users write it: torch ops in a loop over time
    (the peer of --compare-loop), with nn.LayerNorm for each normalization."""

    def __init__(self, embed, hidden):
        super().__init__()
        self.ih, self.hh = nn.Linear(embed, 4 * hidden, bias=False), nn.Linear(hidden, 4 * hidden)
        self.ln_x, self.ln_h = nn.LayerNorm(4 * hidden), nn.LayerNorm(4 * hidden)
        self.ln_c, self.hidden = nn.LayerNorm(hidden), hidden

    def forward(self, x):
        h = c = x.new_zeros(x.shape[1], self.hidden)
        nx, ys = self.ln_x(self.ih(x)), []  # the input projection for all steps at once
        for t in range(x.shape[0]):
            i, f, g, o = (nx[t] + self.ln_h(self.hh(h))).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(self.ln_c(c))
            ys.append(h)
        return torch.stack(ys), (h, c)


def norm_init(cell):
    """This example's convention for normalization params: gains g_* start at 1, shifts s_*
    at 0 (as nn.LayerNorm's), the rest as PyTorch's RNNs."""
    names = [r.tensor for r in cellc.compile(cell).signature.of("param")]
    return {n: 1.0 if n.startswith("g_") else 0.0 for n in names if n[:2] in ("g_", "s_")}


class CharLM(nn.Module):
    def __init__(self, vocab, embed, hidden, cell):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = (nn.LSTM(embed, hidden) if cell == "torch" else
                    LayerNormLSTMLoop(embed, hidden) if cell == "loop" else
                    cellc.torch.Recurrent(cell, embed, hidden, init=norm_init(cell)))
        self.out = nn.Linear(hidden, vocab)

    def forward(self, chars):  # [T, B] -> [T, B, vocab]
        y, _ = self.rnn(self.embed(chars))
        return self.out(y)


def batch(data, step, seed, T, B, rank=0, world=1):
    """The windows of one step: drawn for the whole batch (B per process), this rank's share."""
    g = torch.Generator().manual_seed(seed * 100003 + step)
    starts = torch.randint(0, len(data) - T - 1, (B * world,), generator=g)[rank * B:(rank + 1) * B]
    windows = torch.stack([data[s:s + T + 1] for s in starts.tolist()], dim=1)
    return windows[:-1], windows[1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", default=os.path.join(HERE, "..", "lstm.cell"))
    ap.add_argument("--compare", action="store_true", help="torch.nn.LSTM instead of --cell")
    ap.add_argument("--compare-loop", action="store_true",
                    help="the layer-norm LSTM as a per-step PyTorch loop instead of --cell")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=32, help="sequences per step (per process)")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--embed", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="per process (default: cores/procs)")
    ap.add_argument("--bound", type=float, default=2.5)
    ap.add_argument("--every", type=int, default=50, help="print every N steps")
    ap.add_argument("--ddp", action="store_true")
    ap.add_argument("--summary")
    a = ap.parse_args()

    rank, world = 0, 1
    if a.ddp:
        torch.distributed.init_process_group("gloo")
        rank, world = torch.distributed.get_rank(), torch.distributed.get_world_size()
    threads = a.threads or max(1, (os.cpu_count() or 1) // world)
    torch.set_num_threads(threads)

    with open(TEXT, encoding="utf-8") as f:
        text = f.read()
    vocab = sorted(set(text))
    data = torch.tensor([vocab.index(c) for c in text], dtype=torch.int64)
    torch.manual_seed(a.seed)
    peer = "torch" if a.compare else "loop" if a.compare_loop else None
    model = CharLM(len(vocab), a.embed, a.hidden, peer or a.cell)
    if not peer:
        model.rnn.lib.set_num_threads(threads)
    if a.ddp:
        model = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    what = {"torch": "torch.nn.LSTM", "loop": "a PyTorch loop of the layer-norm LSTM"}.get(
        peer, os.path.basename(a.cell or ""))
    if rank == 0:
        print(f"char-LM on {TEXT}: {len(text)} chars, vocab {len(vocab)}, {what} hidden "
              f"{a.hidden}, batch {a.batch}x{world} of {a.seq} chars, {threads} threads per "
              f"process, {world} process(es)", flush=True)
    losses, times = [], []
    for step in range(a.steps):
        x, y = batch(data, step, a.seed, a.seq, a.batch, rank, world)
        t0 = time.perf_counter()
        logits = model(x)
        loss = nn.functional.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
        value = loss.detach()
        if a.ddp:  # the loss of the combined batch: the mean of the ranks' means
            torch.distributed.all_reduce(value)
            value /= world
        losses.append(float(value))
        if rank == 0 and (step % a.every == 0 or step == a.steps - 1):
            recent = times[-a.every:]
            print(f"step {step:4d}  loss {losses[-1]:.4f}  {1e3 * sum(recent) / len(recent):.1f} "
                  f"ms/step", flush=True)
    summary = {"losses": losses, "ms_per_step": 1e3 * sorted(times)[len(times) // 2]}
    if a.ddp:
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        every = [torch.empty_like(flat) for _ in range(world)]
        torch.distributed.all_gather(every, flat)
        summary["params_identical"] = all(torch.equal(every[0], p) for p in every)
    if rank == 0:
        tail = sum(losses[-10:]) / len(losses[-10:])
        print(f"final loss {tail:.4f} (mean of the last 10 steps), median "
              f"{summary['ms_per_step']:.1f} ms/step, {1e3 / summary['ms_per_step']:.1f} steps/s")
        if a.ddp:
            print(f"params identical across {world} ranks: {summary['params_identical']}")
        print(f"loss {'below' if tail < a.bound else 'NOT below'} {a.bound} after {a.steps} "
              f"steps")
        if a.summary:
            with open(a.summary, "w") as f:
                json.dump(summary, f)
    if a.ddp:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
