#!/usr/bin/env python3
"""cellc.torch.Recurrent against torch.nn.RNN/LSTM/GRU with copied weights (1 and 2 layers, one
and both directions, padded and packed: outputs, final states and every gradient within 1e-5),
torch.autograd.gradcheck through a custom cell (the peephole LSTM, float32 with the tolerances
below), a state_dict round trip, the compile cache, and bad inputs refused with an exception
that names the tensor.

usage: test_module.py CELLC EXAMPLES_DIR   (the cache goes to a temporary directory)
"""
import os
import sys
import tempfile
import time
import warnings

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import cellc  # noqa: E402
import cellc.torch as ct  # noqa: E402
from cellc.torch import _StackCall  # noqa: E402

TOL = 1e-5
failures = 0


def report(ok, what):
    global failures
    failures += not ok
    print(f"{'PASS' if ok else 'FAIL'} {what}")


ALL_CONFIGS = [(1, False, False), (1, False, True), (2, True, False), (2, True, True)]


def against_torch(examples, backend="halide", configs=ALL_CONFIGS):
    modules = {"rnn_tanh": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
    for name, module in modules.items():
        lib = cellc.compile(os.path.join(examples, name + ".cell"), backend=backend)
        for L, bi, packed in configs:
            torch.manual_seed(len(name) + 10 * L + bi + packed)
            ref = module(5, 7, num_layers=L, bidirectional=bi).double()
            m = ct.Recurrent(lib, 5, 7, num_layers=L, bidirectional=bi)
            m.load_torch_state_dict({k: v.float() for k, v in ref.state_dict().items()})
            D = 2 if bi else 1
            x = torch.randn(6, 3, 5)
            states = [torch.randn(L * D, 3, 7) for _ in m.states]
            ours_x, ref_x = x.clone().requires_grad_(), x.double().requires_grad_()
            ours_s = [s.clone().requires_grad_() for s in states]
            ref_s = [s.double().requires_grad_() for s in states]
            lengths = torch.tensor([6, 2, 4])
            wrap = (lambda t: pack_padded_sequence(t, lengths, enforce_sorted=False)) if packed \
                else (lambda t: t)
            y, fin = m(wrap(ours_x), tuple(ours_s))
            yr, finr = ref(wrap(ref_x), tuple(ref_s) if len(ref_s) > 1 else ref_s[0])
            finr = finr if isinstance(finr, tuple) else (finr,)
            if packed:
                y, yr = pad_packed_sequence(y)[0], pad_packed_sequence(yr)[0]
            gy = torch.randn(y.shape)
            ((y * gy).sum() + sum(f.sum() for f in fin)).backward()
            ((yr * gy.double()).sum() + sum(f.sum() for f in finr)).backward()
            pairs = [(y, yr), (ours_x.grad, ref_x.grad)] + list(zip(fin, finr)) + \
                [(a.grad, b.grad) for a, b in zip(ours_s, ref_s)]
            for k, p in ref.named_parameters():
                base, layer = k.rsplit("_l", 1)
                mine = getattr(m, m.param_name(ct.TORCH_NAMES[base], int(layer.split("_")[0]),
                                               int("reverse" in layer)))
                pairs.append((mine.grad, p.grad))
            err = max(float((a.double() - b).abs().max()) for a, b in pairs)
            report(err <= TOL, f"{name} ({backend}) layers={L} bidirectional={bi} "
                               f"packed={packed}: {len(pairs)} tensors, max abs error {err:.2e}")


def mlir_backend(examples):
    """A library built through MLIR serves a one-layer module like a Halide one, and refuses a
    stack with the library's message."""
    against_torch(examples, "mlir", [(1, False, False)])
    lib = cellc.compile(os.path.join(examples, "gru.cell"), backend="mlir")
    m = ct.Recurrent(lib, 5, 7, num_layers=2)
    expect(cellc.CellcError, "a library built with --backend mlir runs one layer",
           lambda: m(torch.randn(4, 3, 5)), "a 2-layer module on an MLIR library")


def gradcheck(examples):
    torch.manual_seed(3)
    m = ct.Recurrent(os.path.join(examples, "peephole_lstm.cell"), 3, 2)
    x = torch.randn(3, 2, 3, requires_grad=True)
    h0, c0 = (torch.randn(1, 2, 2, requires_grad=True) for _ in range(2))
    params = [getattr(m, n) for n in m.param_names]

    def f(x, h0, c0, *ps):
        return _StackCall.apply(m, None, (0.0, 0), True, x, h0, c0, *ps)

    # float32: central differences with eps = 3e-3 carry ~1e-5 truncation and ~2e-5 rounding
    # error; the analytic gradient is exact to float32.
    warnings.filterwarnings("ignore", "Input #")  # float32 on purpose
    ok = torch.autograd.gradcheck(f, (x, h0, c0, *params), eps=3e-3, atol=2e-3, rtol=2e-3,
                                  raise_exception=False)
    report(ok, "gradcheck of the peephole LSTM (x, initial states, 7 params; float32, eps 3e-3, "
               "atol = rtol = 2e-3)")


def round_trip(examples):
    torch.manual_seed(4)
    m = ct.Recurrent(os.path.join(examples, "layernorm_lstm.cell"), 4, 6, num_layers=2)
    m2 = ct.Recurrent(os.path.join(examples, "layernorm_lstm.cell"), 4, 6, num_layers=2)
    m2.load_state_dict(m.state_dict())
    x = torch.randn(5, 2, 4)
    with torch.no_grad():
        same = torch.equal(m(x)[0], m2(x)[0])
    report(same and "W_ih_l1" in m.state_dict(),
           f"state_dict round trip ({len(m.state_dict())} tensors, names like W_ih_l1)")


def conventions(examples):
    """batch_first, dropout between layers (training only, p = 0 is none), eval mode."""
    torch.manual_seed(5)
    path = os.path.join(examples, "gru.cell")
    m = ct.Recurrent(path, 4, 6, num_layers=2, batch_first=True)
    x = torch.randn(3, 5, 4)  # [B, T, I]
    with torch.no_grad():
        y_bf = m(x)[0]
    m2 = ct.Recurrent(path, 4, 6, num_layers=2)
    m2.load_state_dict(m.state_dict())
    with torch.no_grad():
        y = m2(x.transpose(0, 1))[0]
    report(torch.equal(y_bf, y.transpose(0, 1)), "batch_first=True: [B, T, n] in and out")
    d = ct.Recurrent(path, 4, 6, num_layers=2, dropout=0.5)
    d.load_state_dict(m.state_dict())
    xt = x.transpose(0, 1).contiguous().requires_grad_()
    y_train = d(xt)[0]
    d.eval()
    y_eval = d(xt)[0]
    z = ct.Recurrent(path, 4, 6, num_layers=2, dropout=0.0)
    z.load_state_dict(m.state_dict())
    report(not torch.equal(y_train, y_eval) and torch.equal(y_eval, z(xt)[0]) and
           torch.equal(y_eval.detach(), y),
           "dropout=0.5 changes a training call; in eval mode it is the model without dropout")
    y_train.sum().backward()
    report(xt.grad is not None and bool(torch.isfinite(xt.grad).all()),
           "the backward of a call with dropout runs (same masks, recomputed)")


def cache(examples):
    path = os.path.join(examples, "gru.cell")
    t0 = time.perf_counter()
    a = cellc.compile(path)
    b = cellc.compile(path)
    report(a.path == b.path and time.perf_counter() - t0 < 30,
           "a second compile of the same source loads the cached library")
    sig = a.signature
    report((sig.dims, sig.inputs, sig.states, sig.params, sig.outputs) ==
           (["I", "H"], ["x"], ["h"], ["W_ih", "W_hh", "b_ih", "b_hh"], ["h"]),
           f"the signature lists the cell's tensors: {sig}")


def expect(exc, part, fn, what):
    try:
        fn()
    except exc as e:
        report(part in str(e), f"{what}: {type(e).__name__}: {e}")
        return
    except Exception as e:  # noqa: BLE001 - the wrong kind of error is a failure too
        report(False, f"{what}: {type(e).__name__} instead of {exc.__name__}: {e}")
        return
    report(False, f"{what}: no error")


def bad_inputs(examples):
    m = ct.Recurrent(os.path.join(examples, "lstm.cell"), 5, 7)
    x = torch.randn(4, 3, 5)
    expect(TypeError, "x must be float32, got torch.float64", lambda: m(x.double()),
           "float64 input")
    expect(ValueError, "x is on meta", lambda: m(torch.empty(4, 3, 5, device="meta")),
           "input on another device")
    expect(ValueError, "x has shape (4, 3, 6), expected (*, *, 5)", lambda: m(torch.randn(4, 3, 6)),
           "input of the wrong size")
    expect(ValueError, "initial state c has shape (1, 2, 7), expected (1, 3, 7)",
           lambda: m(x, (torch.zeros(1, 3, 7), torch.zeros(1, 2, 7))), "state of another batch")
    expect(ValueError, "1 initial states given, the cell has 2 (h, c)",
           lambda: m(x, (torch.zeros(1, 3, 7),)), "too few states")
    expect(ValueError, "needs a cell with one input", lambda: ct.Recurrent(
        os.path.join(examples, "..", "test", "lit", "run", "Inputs", "two_inputs.cell"), 4, 6,
        dims={"J": 3}), "a cell with two inputs")
    expect(cellc.CellcError, "error", lambda: cellc.compile("cell bad\ninput x[N]\n"),
           "a cell that does not compile")
    with torch.no_grad():
        view = torch.randn(3, 4, 5).transpose(0, 1)  # not contiguous
        report(torch.equal(m(view)[0], m(view.contiguous())[0]),
               "a non-contiguous input is copied, with the same result")


def main():
    cellc_path, examples = sys.argv[1:3]
    os.environ["CELLC"] = os.path.abspath(cellc_path)
    os.environ["CELLC_CACHE"] = tempfile.mkdtemp(prefix="cellc-cache-")
    against_torch(examples)
    mlir_backend(examples)
    gradcheck(examples)
    round_trip(examples)
    conventions(examples)
    cache(examples)
    bad_inputs(examples)
    print(f"python module: {'all passed' if failures == 0 else str(failures) + ' failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
