"""A compiled cell as a torch.nn.Module with torch.nn.LSTM's call convention.

    m = cellc.torch.Recurrent("examples/lstm.cell", input_size=32, hidden_size=64,
                              num_layers=2, bidirectional=True)
    output, (h_n, c_n) = m(x)                    # x [T, B, 32], or a PackedSequence
    output.sum().backward()                      # the library's derived backward (BPTT)

Params are nn.Parameters named as in the cell (`W_ih`), with `_l<k>` and `_reverse` when
stacked (`W_ih_l1_reverse`), initialised as PyTorch's RNNs are (uniform in ±1/√hidden_size);
`load_torch_state_dict` takes a torch.nn.RNN/LSTM/GRU state_dict for the example cells. States
are a tuple in the cell's state order, each [layers·directions, B, n]. Tensors are float32 on
the CPU; others are refused with a message that names them, non-contiguous ones are copied.

Threads: the library runs its kernels on TBB's pool (all cores unless limited), PyTorch its ops
on its OpenMP pool. A module's calls and PyTorch's ops alternate, so the pools do not run at
once; with several processes on one machine (DDP), give each its share of the cores:
torch.set_num_threads(n) and Library.set_num_threads(n) (examples/python/char_lm.py does).
"""
import ctypes
import math

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import CellcError, Library, compile as _compile, evaluate, pointer_array, shape_array
from . import size_terms

__all__ = ["Recurrent"]

# torch.nn.RNN/LSTM/GRU's param names and the example cells' (examples/*.cell).
TORCH_NAMES = {"weight_ih": "W_ih", "weight_hh": "W_hh", "bias_ih": "b_ih", "bias_hh": "b_hh"}


def _single_dim(row, what):
    terms, constant = size_terms(row.shape[0]) if len(row.shape) == 1 else ({}, 1)
    if constant != 0 or len(terms) != 1 or list(terms.values())[0] != 1:
        raise ValueError(f"Recurrent needs the {what} {row.tensor} sized by one dim (as x[I]); "
                         f"it is {row.shape}")
    return list(terms)[0]


def _elements(row, dims):
    n = 1
    for s in row.shape:
        n *= evaluate(s, dims)
    return n


class Recurrent(nn.Module):
    """`cell`: a .cell path, cell source text or a cellc.Library. `input_size` and
    `hidden_size` bind the dims that size the cell's input and its first output; `dims` binds
    any other free dim. `init` maps a param of the cell (by its name in the cell) to a value
    for every element (a layer-norm gain: 1.0) or a function that fills the tensor in place;
    the others are uniform in ±1/√hidden_size, as PyTorch's RNNs."""

    def __init__(self, cell, input_size, hidden_size, num_layers=1, bidirectional=False,
                 batch_first=False, dropout=0.0, dims=None, defines=None, init=None):
        super().__init__()
        self.lib = cell if isinstance(cell, Library) else _compile(cell, defines)
        sig = self.lib.signature
        self.num_layers, self.bidirectional = int(num_layers), bool(bidirectional)
        self.batch_first, self.dropout = bool(batch_first), float(dropout)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        if self.num_layers < 1:
            raise ValueError("num_layers must be at least 1")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")
        D = self.directions = 2 if bidirectional else 1
        self.inputs, self.states = sig.of("input"), sig.of("init_state")
        self.params, self.outputs = sig.of("param"), sig.of("output")
        if len(self.inputs) != 1 or not self.outputs:
            raise ValueError(f"Recurrent needs a cell with one input and an output; "
                             f"{sig.cell} has {len(self.inputs)} inputs")
        self.input_dim = _single_dim(self.inputs[0], "input")
        hidden_dim = _single_dim(self.outputs[0], "output")
        bound = dict(sig.fixed)
        bound.update(dims or {})
        for dim, value, what in [(self.input_dim, self.input_size, "input_size"),
                                 (hidden_dim, self.hidden_size, "hidden_size")]:
            if bound.get(dim, value) != value:
                raise ValueError(f"{what} {value} contradicts {dim} = {bound[dim]}")
            bound[dim] = value
        missing = [d for d in sig.dims if d not in bound]
        if missing:
            raise ValueError(f"give the size of dim {missing[0]} in dims={{...}}")
        self.layer_dims = [bound]
        for _ in range(1, self.num_layers):
            d = dict(self.layer_dims[-1])
            d[self.input_dim] = D * evaluate(self.outputs[0].shape[0], self.layer_dims[-1])
            self.layer_dims.append(d)
        self.state_sizes = [_elements(r, bound) for r in self.states]
        self.param_names = []  # the stack's order: each param row, then layer, then direction
        scale = 1.0 / math.sqrt(self.hidden_size)
        init = dict(init or {})
        unknown = set(init) - {r.tensor for r in self.params}
        if unknown:
            raise ValueError(f"init names {sorted(unknown)}, not params of {sig.cell}")
        for row in self.params:
            for k in range(self.num_layers):
                for r in range(D):
                    name = self.param_name(row.tensor, k, r)
                    shape = [evaluate(s, self.layer_dims[k]) for s in row.shape]
                    value = torch.empty(shape).uniform_(-scale, scale)
                    how = init.get(row.tensor)
                    if callable(how):
                        how(value)
                    elif how is not None:
                        value.fill_(float(how))
                    self.register_parameter(name, nn.Parameter(value))
                    self.param_names.append(name)

    def param_name(self, tensor, layer, direction):
        if self.num_layers * self.directions == 1:
            return tensor
        return f"{tensor}_l{layer}" + ("_reverse" if direction else "")

    def load_torch_state_dict(self, state_dict):
        """Loads the state_dict of a torch.nn.RNN/LSTM/GRU with the same layers and directions
        (weight_ih_l0 -> W_ih or W_ih_l0, ...), for the example cells."""
        mine = {}
        for key, value in state_dict.items():
            base, _, rest = key.rpartition("_l")
            reverse = rest.endswith("_reverse")
            layer = int(rest[:-len("_reverse")] if reverse else rest)
            if base not in TORCH_NAMES:
                raise KeyError(f"{key}: not a torch.nn.RNN/LSTM/GRU param")
            mine[self.param_name(TORCH_NAMES[base], layer, int(reverse))] = value
        self.load_state_dict(mine)

    def extra_repr(self):
        return (f"{self.lib.cell}, {self.input_size}, {self.hidden_size}, "
                f"num_layers={self.num_layers}, bidirectional={self.bidirectional}")

    def forward(self, x, initial_states=None):
        packed = isinstance(x, PackedSequence)
        if packed:
            seq, lengths = pad_packed_sequence(x)
            lengths = lengths.to(torch.int64).contiguous()
        else:
            seq = x.transpose(0, 1) if self.batch_first else x
            lengths = None
        name = self.inputs[0].tensor
        self._check(seq, name, (None, None, self.input_size))
        T, B = seq.shape[0], seq.shape[1]
        inits = self._initial_states(initial_states, B)
        params = [getattr(self, n) for n in self.param_names]
        train = torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in [seq, *inits, *params])
        dropout = self.dropout if train and self.training else 0.0
        seed = int(torch.randint(0, 2 ** 62, ())) if dropout > 0 else 0
        results = _StackCall.apply(self, lengths, (dropout, seed), train, seq, *inits, *params)
        outs, finals = results[:len(self.outputs)], tuple(results[len(self.outputs):])
        if packed:
            outs = [pack_padded_sequence(o, lengths, enforce_sorted=False) for o in outs]
        elif self.batch_first:
            outs = [o.transpose(0, 1) for o in outs]
        return (outs[0] if len(outs) == 1 else tuple(outs)), finals

    def _check(self, t, name, shape):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{self.lib.cell}: {name} must be a tensor, got {type(t).__name__}")
        if t.dtype != torch.float32:
            raise TypeError(f"{self.lib.cell}: {name} must be float32, got {t.dtype}")
        if t.device.type != "cpu":
            raise ValueError(f"{self.lib.cell}: {name} is on {t.device}; this library runs on "
                             f"the CPU")
        if t.dim() != len(shape) or any(s is not None and s != n for s, n in zip(shape, t.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{self.lib.cell}: {name} has shape {tuple(t.shape)}, expected "
                             f"{want}")

    def _initial_states(self, given, B):
        if given is None:
            return [None] * len(self.states)
        if isinstance(given, torch.Tensor):
            given = (given,)
        if len(given) != len(self.states):
            raise ValueError(f"{self.lib.cell}: {len(given)} initial states given, the cell has "
                             f"{len(self.states)} ({', '.join(r.tensor for r in self.states)})")
        for t, row, n in zip(given, self.states, self.state_sizes):
            if t is not None:
                self._check(t, f"initial state {row.tensor}",
                            (self.num_layers * self.directions, B, n))
        return list(given)


def _ptr(t):
    return t.data_ptr() if t is not None else None


class _StackCall(torch.autograd.Function):
    """One call of the library (the stack call when stacked, bidirectional or ragged);
    backward: its derived backward, every gradient in one call."""

    @staticmethod
    def forward(ctx, m, lengths, dropout_seed, train, x, *rest):
        dropout, seed = dropout_seed
        lib, L, D = m.lib, m.num_layers, m.directions
        inits = [t.contiguous() if t is not None else None for t in rest[:len(m.states)]]
        params = [p.contiguous() for p in rest[len(m.states):]]
        x = x.contiguous()
        T, B = x.shape[0], x.shape[1]
        shape = shape_array([T, B] + [m.layer_dims[0][d] for d in lib.signature.dims])
        stacked = L * D > 1 or lengths is not None
        ws, rs = _scratch(lib, shape, L, D, stacked, train)
        pointers, at = [], 0
        for row in lib.signature.select("forward", False):
            if row.role == "input":
                pointers.append(x.data_ptr())
            elif row.role == "init_state":
                pointers.append(_ptr(inits[m.states.index(row)]))
            else:
                pointers += [p.data_ptr() for p in params[at:at + L * D]]
                at += L * D
        dims = m.layer_dims[-1]
        outs = [torch.empty(T, B, D * _elements(r, dims)) for r in m.outputs]
        finals = [torch.empty(L * D, B, n) for n in m.state_sizes]
        out = [t.data_ptr() for t in outs + finals]
        _call(lib, "forward", stacked, shape, L, D, lengths, dropout, seed, pointers, out, ws, rs)
        ctx.m, ctx.lengths, ctx.dropout_seed = m, lengths, dropout_seed
        ctx.shape, ctx.stacked = shape, stacked
        ctx.ws, ctx.rs, ctx.had_init = ws, rs, [t is not None for t in inits]
        ctx.save_for_backward(x, *params)
        return (*outs, *finals)

    @staticmethod
    def backward(ctx, *grads):
        m, lib, L, D = ctx.m, ctx.m.lib, ctx.m.num_layers, ctx.m.directions
        if ctx.rs is None:
            raise RuntimeError("cellc: backward of an inference call (no input required grad)")
        x, *params = ctx.saved_tensors
        width = [D * _elements(r, m.layer_dims[-1]) for r in m.outputs]
        g_out = [g.contiguous() if g is not None else torch.zeros(x.shape[0], x.shape[1], n)
                 for g, n in zip(grads[:len(m.outputs)], width)]
        g_final = [g.contiguous() if g is not None else None for g in grads[len(m.outputs):]]
        pointers, at = [], 0
        for row in lib.signature.select("backward", False):
            if row.role == "input":
                pointers.append(x.data_ptr())
            elif row.role == "param":
                pointers += [p.data_ptr() for p in params[at:at + L * D]]
                at += L * D
            elif row.role == "output_grad":
                pointers.append(g_out[[r.tensor for r in m.outputs].index(row.tensor)].data_ptr())
            else:
                pointers.append(_ptr(g_final[[r.tensor for r in m.states].index(row.tensor)]))
        dx = torch.empty_like(x)
        d_init = [torch.empty(L * D, x.shape[1], n) for n in m.state_sizes]
        d_params = [torch.empty_like(p) for p in params]
        out, at = [], 0
        for row in lib.signature.select("backward", True):
            if row.role == "input_grad":
                out.append(dx.data_ptr())
            elif row.role == "init_state_grad":
                out.append(d_init[[r.tensor for r in m.states].index(row.tensor)].data_ptr())
            else:
                out += [p.data_ptr() for p in d_params[at:at + L * D]]
                at += L * D
        _call(lib, "backward", ctx.stacked, ctx.shape, L, D, ctx.lengths, *ctx.dropout_seed,
              pointers, out, ctx.ws, ctx.rs)
        d_init = [g if had else None for g, had in zip(d_init, ctx.had_init)]
        return (None, None, None, None, dx, *d_init, *d_params)


def _scratch(lib, shape, L, D, stacked, train):
    ws, rs = ctypes.c_int64(), ctypes.c_int64()
    if stacked:
        lib.check(lib.stack_workspace_size(shape, L, D, ctypes.byref(ws)), "workspace size")
        lib.check(lib.stack_reserve_size(shape, L, D, ctypes.byref(rs)), "reserve size")
    else:
        lib.check(lib.workspace_size(shape, ctypes.byref(ws)), "workspace size")
        lib.check(lib.reserve_size(shape, ctypes.byref(rs)), "reserve size")
    workspace = torch.empty(ws.value // 4 + 16, dtype=torch.float32)
    reserve = torch.empty(rs.value // 4 + 16, dtype=torch.float32) if train else None
    return workspace, reserve


def _call(lib, what, stacked, shape, L, D, lengths, dropout, seed, inputs, outputs, ws, rs):
    ins, outs = pointer_array(inputs), pointer_array(outputs)
    wsp, wsb = ws.data_ptr(), ws.numel() * 4
    rsp, rsb = (rs.data_ptr(), rs.numel() * 4) if rs is not None else (None, 0)
    if stacked:
        lens = lengths.data_ptr() if lengths is not None else None
        lens = ctypes.cast(lens, ctypes.POINTER(ctypes.c_int64)) if lens else None
        fn = lib.stack_forward if what == "forward" else lib.stack_backward
        rc = fn(shape, L, D, lens, dropout, seed, ins, outs, wsp, wsb, rsp, rsb)
    else:
        fn = lib.forward_v if what == "forward" else lib.backward_v
        rc = fn(shape, ins, outs, wsp, wsb, rsp, rsb)
    lib.check(rc, f"{lib.cell} {what}")
