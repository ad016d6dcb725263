#!/usr/bin/env python3
"""Calls a library built with `cellc compile --backend mlir` through its C entry points
(ctypes, via the cellc package's Library and Signature) where `cellc run` cannot look:

- 300 training forwards and backwards give the same bits as the first and leave the heap's
  bytes in use as they were (glibc's mallinfo2: the module frees every buffer it allocates,
  the runtime every result; a leak of one step's buffers would show as megabytes);
- the inputs, params and seeds are untouched;
- a one-layer one-direction stack call and forward_packed equal the plain forward;
- bad calls return the codes and messages of the C ABI (printed for FileCheck);
- the module's own functions (`<cell>_forward`, the step functions) are not exported.

usage: mlir_library_abi.py LIB.so DIM=VALUE...
"""
import ctypes
import sys

import numpy as np

from cellc import Library, evaluate, pointer_array, shape_array

T, B = 3, 2


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def heap_in_use():
    """Bytes malloc has handed out and not had back (small blocks and mmapped ones)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def shape_of(row, dims):
    per = [evaluate(s, dims) for s in row.shape]
    return {"sequence": [T, B], "batch": [B]}.get(row.layout, []) + per


class Call:
    """The arrays of one library's forward and backward calls, random where read."""

    def __init__(self, lib, dims):
        self.lib, self.sig = lib, lib.signature
        self.shape = shape_array([T, B] + [dims[d] for d in self.sig.dims])
        rng = np.random.default_rng(5)
        self.arrays = {}
        for call in ("forward", "backward"):
            for written in (False, True):
                for r in self.sig.select(call, written):
                    key = (call, written, r.position)
                    a = np.zeros(shape_of(r, dims), dtype=np.float32)
                    if not written:
                        a[...] = rng.uniform(-1, 1, a.shape)
                    self.arrays[key] = a
        # The backward reads the forward's inputs and params.
        for r in self.sig.select("backward", False):
            for f in self.sig.select("forward", False):
                if f.tensor == r.tensor and f.role == r.role:
                    self.arrays[("backward", False, r.position)] = \
                        self.arrays[("forward", False, f.position)]
        self.reserve = np.zeros(self.size(lib.reserve_size) // 4 + 1, dtype=np.float32)

    def size(self, fn):
        n = ctypes.c_int64(-1)
        self.lib.check(fn(self.shape, ctypes.byref(n)), "size")
        return n.value

    def pointers(self, call, written, missing=None):
        rows = self.sig.select(call, written)
        return pointer_array([None if r.tensor == missing else
                              self.arrays[(call, written, r.position)].ctypes.data for r in rows])

    def forward(self, missing=None, reserve_bytes=None):
        nbytes = self.reserve.nbytes if reserve_bytes is None else reserve_bytes
        return self.lib.forward_v(self.shape, self.pointers("forward", False, missing),
                                  self.pointers("forward", True), None, 0,
                                  self.reserve.ctypes.data, nbytes)

    def backward(self, reserve=True):
        return self.lib.backward_v(self.shape, self.pointers("backward", False),
                                   self.pointers("backward", True), None, 0,
                                   self.reserve.ctypes.data if reserve else None,
                                   self.reserve.nbytes)

    def results(self):
        return [a.copy() for (c, w, p), a in sorted(self.arrays.items()) if w]

    def given(self):
        return [a.copy() for (c, w, p), a in sorted(self.arrays.items()) if not w]


def report(lib, what, rc):
    message = lib._message().decode() if rc else ""
    print(f"{what}: code {rc} {message}")


def main():
    lib = Library(sys.argv[1])
    dims = dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in sys.argv[2:])
    c = Call(lib, dims)
    hidden = [s for s in ("_forward", "_backward", "_forward_step", "_backward_step")
              if getattr(lib._dll, lib.cell + s, None) is None]
    print(f"module functions hidden: {len(hidden)} of 4")
    print(f"workspace {c.size(lib.workspace_size)} bytes, reserve {c.size(lib.reserve_size)} "
          "bytes")
    given = c.given()
    lib.check(c.forward(), "forward")
    lib.check(c.backward(), "backward")
    first = c.results()
    for _ in range(20):  # warm up the allocator
        c.forward(), c.backward()
    before = heap_in_use()
    same = True
    for _ in range(300):
        lib.check(c.forward(), "forward")
        lib.check(c.backward(), "backward")
        same = same and all(np.array_equal(a, b) for a, b in zip(first, c.results()))
    grown = heap_in_use() - before
    print(f"300 calls: same bits {same}, inputs untouched "
          f"{all(np.array_equal(a, b) for a, b in zip(given, c.given()))}, heap grew "
          f"{'less' if grown < 64 << 10 else 'MORE'} than 64 KiB ({grown} bytes)")

    # One layer in one direction through the stack entry point: the plain call.
    out_before = c.results()
    rc = lib.stack_forward(c.shape, 1, 1, None, 0.0, 0, c.pointers("forward", False),
                           c.pointers("forward", True), None, 0, c.reserve.ctypes.data,
                           c.reserve.nbytes)
    print(f"stack of 1 layer, 1 direction: code {rc}, same as forward "
          f"{all(np.array_equal(a, b) for a, b in zip(out_before, c.results()))}")
    report(lib, "stack of 2 layers", lib.stack_forward(
        c.shape, 2, 1, None, 0.0, 0, c.pointers("forward", False), c.pointers("forward", True),
        None, 0, c.reserve.ctypes.data, c.reserve.nbytes))

    report(lib, "NULL param", c.forward(missing=lib.signature.params[0]))
    report(lib, "small reserve", c.forward(reserve_bytes=8))
    report(lib, "backward without reserve", c.backward(reserve=False))
    zero = shape_array([T, 0] + [dims[d] for d in lib.signature.dims])
    report(lib, "B = 0", lib.forward_v(zero, c.pointers("forward", False),
                                       c.pointers("forward", True), None, 0, None, 0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
