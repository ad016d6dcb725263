"""cellc from Python: compile a .cell file (or source text) to a library and call it.

    lib = cellc.compile("examples/lstm.cell")      # cached by content: a second call is free
    lib.signature.dims                             # ['I', 'H']
    m = cellc.torch.Recurrent(lib, input_size=32, hidden_size=64, num_layers=2)

The library is bound with ctypes over its C ABI and the signature it exports
(`<cell>_signature()`), as `cellc run` binds it: no extension module to build, so Debian's
/usr/bin/python3 imports this package as it is (scripts/setup.sh puts python/ on its path). The
cellc binary is $CELLC, else build/cellc of this checkout.
"""
import ctypes
import hashlib
import os
import re
import subprocess

__all__ = ["compile", "Library", "Signature", "Row", "CellcError"]

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class CellcError(RuntimeError):
    """A library call failed (its error code and message), or cellc could not compile."""


class Row:
    """One tensor of a call: role, position, the cell's name, layout and symbolic shape."""

    def __init__(self, call, written, position, role, tensor, layout, optional, fill, shape):
        self.call, self.written, self.position = call, written, position
        self.role, self.tensor, self.layout = role, tensor, layout
        self.optional, self.fill, self.shape = optional, fill, shape

    def __repr__(self):
        return f"Row({self.call} {self.role} {self.tensor} {self.layout} {self.shape})"


_TERM = re.compile(r"([+-]?)(?:(\d+)\*)?([A-Za-z_]\w*)|([+-]?)(\d+)")


def size_terms(text):
    """'4*H+I-1' as ({'H': 4, 'I': 1}, -1)."""
    terms, constant, pos = {}, 0, 0
    while pos < len(text):
        m = _TERM.match(text, pos)
        if not m or m.end() == pos:
            raise ValueError(f"bad size '{text}' in the signature")
        if m.group(3):
            k = int(m.group(2) or 1) * (-1 if m.group(1) == "-" else 1)
            terms[m.group(3)] = terms.get(m.group(3), 0) + k
        else:
            constant += int(m.group(5)) * (-1 if m.group(4) == "-" else 1)
        pos = m.end()
    return terms, constant


def evaluate(text, dims):
    terms, constant = size_terms(text)
    return constant + sum(k * dims[d] for d, k in terms.items())


class Signature:
    """The signature text a library exports (compiler/abi/Signature.h)."""

    def __init__(self, text):
        lines = text.strip().splitlines()
        if not lines or lines[0] != "cellc-signature 1":
            raise CellcError("not a cellc signature (version 1)")
        self.cell = lines[1].split()[1]
        self.dims = lines[2].split()[1:]
        self.fixed = dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in lines[3].split()[1:])
        self.rows = []
        for line in lines[4:]:
            w = line.split()
            self.rows.append(Row(w[0], w[1] == "write", int(w[2]), w[3], w[4], w[5], w[6] == "1",
                                 float(w[7]), w[8:]))

    @property
    def inputs(self):
        return [r.tensor for r in self.of("input")]

    @property
    def states(self):
        return [r.tensor for r in self.of("init_state")]

    @property
    def params(self):
        return [r.tensor for r in self.of("param")]

    @property
    def outputs(self):
        return [r.tensor for r in self.of("output")]

    def __repr__(self):
        return (f"Signature({self.cell}: dims {self.dims}, inputs {self.inputs}, states "
                f"{self.states}, params {self.params}, outputs {self.outputs})")

    def select(self, call, written):
        return sorted((r for r in self.rows if r.call == call and r.written == written),
                      key=lambda r: r.position)

    def of(self, role):
        return [r for r in self.rows if r.call == "forward" and r.role == role]


def _cellc():
    path = os.environ.get("CELLC") or os.path.join(_REPO, "build", "cellc")
    if not os.access(path, os.X_OK):
        raise CellcError(f"no cellc at {path}: build it (scripts/setup.sh) or set $CELLC")
    return path


def _cache_dir():
    base = os.environ.get("CELLC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cellc")
    os.makedirs(base, exist_ok=True)
    return base


def compile(path_or_source, defines=None, target="host", backend="halide"):
    """Compiles a .cell file or cell source text to a library; cached by the hash of the source,
    the defines, the target, the backend and the cellc binary (its size and time), so a second
    call with the same arguments loads the library built by the first. backend="mlir" builds it
    through MLIR 14 (serial code with the same C ABI, for cross-checks)."""
    source = path_or_source
    if "\n" not in path_or_source and os.path.exists(path_or_source):
        with open(path_or_source) as f:
            source = f.read()
    defines = dict(defines or {})
    exe = _cellc()
    st = os.stat(exe)
    key = hashlib.sha256(repr((source, sorted(defines.items()), target, backend, st.st_size,
                               st.st_mtime_ns)).encode()).hexdigest()[:24]
    name = re.search(r"^\s*cell\s+(\w+)", source, re.M)
    if not name:
        raise CellcError("no 'cell NAME' line in the source")
    d = os.path.join(_cache_dir(), key)
    lib = os.path.join(d, f"lib{name.group(1)}.so")
    if not os.path.exists(lib):
        os.makedirs(d, exist_ok=True)
        cell = os.path.join(d, name.group(1) + ".cell")
        with open(cell, "w") as f:
            f.write(source)
        args = [exe, "compile", cell, "-o", lib + ".partial.so", "--target", target,
                "--backend", backend]
        for k, v in defines.items():
            args += ["-D", f"{k}={v}"]
        run = subprocess.run(args, capture_output=True, text=True)
        if run.returncode != 0:
            raise CellcError(run.stderr.strip() or "cellc compile failed")
        os.replace(lib + ".partial.so", lib)  # whole or absent, for concurrent callers
    return Library(lib)


_i64p = ctypes.POINTER(ctypes.c_int64)
_vpp = ctypes.POINTER(ctypes.c_void_p)


class Library:
    """A library built by cellc: its signature and its generic entry points (float32)."""

    def __init__(self, path):
        self.path = path
        self._dll = ctypes.CDLL(os.path.abspath(path))
        fn = getattr(self._dll, "cellc_library_name", None)
        if fn is None:
            raise CellcError(f"{path} is not a library built by cellc")
        fn.restype = ctypes.c_char_p
        self.cell = fn().decode()
        sig = getattr(self._dll, self.cell + "_signature")
        sig.restype = ctypes.c_char_p
        self.signature = Signature(sig().decode())
        self._message = getattr(self._dll, self.cell + "_error_message")
        self._message.restype = ctypes.c_char_p
        f = self._fn
        self.workspace_size = f("_workspace_size_v", [_i64p, _i64p])
        self.reserve_size = f("_reserve_size_v", [_i64p, _i64p])
        self.forward_v = f("_forward_v", [_i64p, _vpp, _vpp, ctypes.c_void_p, ctypes.c_int64,
                                          ctypes.c_void_p, ctypes.c_int64])
        self.backward_v = f("_backward_v", [_i64p, _vpp, _vpp, ctypes.c_void_p, ctypes.c_int64,
                                            ctypes.c_void_p, ctypes.c_int64])
        size = [_i64p, ctypes.c_int64, ctypes.c_int64, _i64p]
        call = [_i64p, ctypes.c_int64, ctypes.c_int64, _i64p, ctypes.c_double, ctypes.c_uint64,
                _vpp, _vpp, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64]
        self.stack_workspace_size = f("_stack_workspace_size_v", size)
        self.stack_reserve_size = f("_stack_reserve_size_v", size)
        self.stack_forward = f("_stack_forward_v", call)
        self.stack_backward = f("_stack_backward_v", call)

    def set_num_threads(self, n):
        """Limits the threads of cellc's kernels in this process (TBB is process-wide)."""
        fn = getattr(self._dll, "cellc_set_num_threads", None)
        if fn is None:
            raise CellcError(f"{self.path} has no cellc_set_num_threads; rebuild it")
        fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
        if fn(int(n)) != 0:
            raise CellcError("threads must be at least 1")

    def _fn(self, suffix, argtypes):
        fn = getattr(self._dll, self.cell + suffix)
        fn.argtypes, fn.restype = argtypes, ctypes.c_int
        return fn

    def check(self, rc, what):
        """Raises CellcError with the library's message when rc is not 0."""
        if rc != 0:
            raise CellcError(f"{what}: {self._message().decode()} (code {rc})")

    def __repr__(self):
        return f"cellc.Library({self.cell!r}, dims={self.signature.dims})"


def shape_array(values):
    return (ctypes.c_int64 * len(values))(*values)


def pointer_array(pointers):
    return (ctypes.c_void_p * max(1, len(pointers)))(*pointers)
