#!/usr/bin/env python3
"""Robustness fuzzer for the cellc front end and for the .npy reader of `cellc run`.

usage: fuzz_frontend.py CELLC EXAMPLES_DIR COUNT SEED [--out DIR] [--npy-count N]
                        [--workers 2] [--timeout 5] [--max-chain 2000] [--known-bugs]
                        [--minimize] [--memory-limit MIB]

Compile cases (COUNT of them, spread evenly over examples/*.cell): each is an example cell with
one to four random mutations applied (byte inserts/deletes/replacements with random, non-ASCII
and NUL bytes; truncation; token deletion, duplication, swaps and shuffles; line swaps,
deletions and duplications; one name replaced by another name of the file; numbers replaced by
0, -1 or huge values; deep nesting of parentheses, unary minus, calls and '@'; long '+' and
slice chains and long let chains up to --max-chain links; lines spliced in from another
example; odd -D values), compiled with `cellc compile FILE --emit=grad`.

Run cases (--npy-count, default COUNT // 5): valid inputs made by `cellc gen --backward` for an
example, then one file broken (missing, empty, bad magic, version, header length, random header
text or bytes, another dtype, Fortran order, wrong or huge shapes, truncated or extra data, a
directory in its place) and `cellc run --backward` on them.

A case fails if cellc is killed by a signal, exits with a code other than 0 or 1, runs past
--timeout, exits 1 without an `error:` diagnostic, exits 0 after printing `error:`, or points a
diagnostic at a line or column outside the file. A run case also fails if it exits 1 without
naming the broken file, leaves any file in --outputs after exit 1, or exits 0 on a file that is
not a valid little-endian float32/float64 C-order .npy of the expected shape (a missing optional
file, <state>.init.npy or grad_<state>.final.npy, is valid). Every child runs with its address
space limited to 1 GiB (RLIMIT_AS), so a header that makes cellc allocate without bound shows
up as a crash.

Failing inputs are kept under --out (default ./fuzz-out)/failures with a .txt beside each
(command, exit code, stderr); --minimize shrinks each kept .cell (lines, then tokens) while it
fails the same way. Prints one summary line per part and exits 1 on any failure.

--known-bugs counts a failure that matches one of the open bugs in KNOWN_BUGS below apart, as
"known", instead of as a failure; the summary says how many cases each one caught, and an XFAIL
test in test/lit/robustness/ holds its reproducer. Without the flag they are failures. None is
open now: the .npy reader's unbounded allocation and lenient header, and the stack overflow on
chains of some 7000 links, are fixed and their reproducers are regression tests.
--max-chain (default 2000) bounds the generated chains to keep a case fast; long_chains.test
checks much longer ones.
"""
import argparse
import ast
import concurrent.futures
import os
import random
import re
import resource
import shutil
import struct
import subprocess
import sys
import threading

import numpy as np

# Open bugs: (name, what goes wrong, XFAIL test with the reproducer, does a failure match it?).
# A predicate gets (part, kind, stderr, mutation): part is "compile" or "run", kind the failure
# kind from judge_exit & co, mutation the .npy mutation's name (run cases).
KNOWN_BUGS = []  # none open; add one here while its fix is pending


def known_bug(part, kind, err, what=None):
    for name, _, _, matches in KNOWN_BUGS:
        if matches(part, kind, err, what):
            return name
    return None


MEMORY_LIMIT = 1 << 30  # address space of every cellc child
MAX_KEPT = 200          # failing inputs kept on disk

TOKEN_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|#[^\n]*"
                      rb"|//[^\n]*|\n|[ \t\r]+|.", re.S)
NAME_RE = re.compile(rb"\b[A-Za-z_][A-Za-z0-9_]*\b")
NUMBER_RE = re.compile(rb"(?<![A-Za-z_0-9.])(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
KEYWORDS = [b"cell", b"dim", b"input", b"state", b"param", b"let", b"output"]
FUNCTIONS = [b"tanh", b"sigmoid", b"relu", b"exp", b"log", b"sqrt", b"rsqrt", b"abs", b"sum",
             b"mean", b"split", b"concat", b"min", b"max", b"clamp", b"softplus",
             b"hard_sigmoid", b"nosuchfn"]
PUNCT = [b"'", b"@", b"[", b"]", b"(", b")", b":", b",", b";", b"=", b"+", b"-", b"*", b"/",
         b"\n", b"#", b"//", b"$", b"^", b"\\", b"\"", b"`", b"{", b"}", b"!", b"?"]
ODD_BYTES = [b"\x00", b"\xff", b"\xfe", b"\xc3", b"\xe2\x8a\x99", b"\xc3\xa9", b"\xf0\x9f\x98\x80",
             b"\xed\xa0\x80", b"\t", b"\r", b"\x0b", b"\x0c", b"\x1b", b"\x7f", b"\xef\xbb\xbf"]
HUGE_NUMBERS = [b"0", b"-1", b"1e308", b"1e999", b"1e-400", b"99999999999999999999",
                b"4294967296", b"4294967297", b"9223372036854775807", b"9223372036854775808",
                b"18446744073709551617", b"1000000000000", b"1000000000001", b"0.5", b"0.0",
                b"00000000000000000000004", b"2147483648", b"-0", b"1" + b"0" * 400]


# ---------------------------------------------------------------------------------------------
# Mutations of a .cell file (bytes in, bytes out).

def rand_bytes(rng, n):
    out = b""
    for _ in range(n):
        k = rng.random()
        if k < 0.3:
            out += bytes([rng.randrange(256)])
        elif k < 0.5:
            out += rng.choice(ODD_BYTES)
        elif k < 0.8:
            out += rng.choice(PUNCT)
        else:
            out += bytes([rng.randrange(32, 127)])
    return out


def m_insert_bytes(rng, s, ctx):
    i = rng.randrange(len(s) + 1)
    return s[:i] + rand_bytes(rng, rng.randint(1, 8)) + s[i:]


def m_delete_bytes(rng, s, ctx):
    if not s:
        return s
    i = rng.randrange(len(s))
    return s[:i] + s[i + rng.randint(1, 16):]


def m_replace_bytes(rng, s, ctx):
    if not s:
        return s
    i = rng.randrange(len(s))
    n = rng.randint(1, 4)
    return s[:i] + rand_bytes(rng, n) + s[i + n:]


def m_truncate(rng, s, ctx):
    return s[:rng.randrange(len(s) + 1)]


def tokens(s):
    return TOKEN_RE.findall(s)


def significant(toks):
    return [i for i, t in enumerate(toks) if not t.isspace() or t == b"\n"]


def m_token_delete(rng, s, ctx):
    toks = tokens(s)
    idx = significant(toks)
    for _ in range(rng.randint(1, 3)):
        if idx:
            toks[rng.choice(idx)] = b""
    return b"".join(toks)


def m_token_duplicate(rng, s, ctx):
    toks = tokens(s)
    idx = significant(toks)
    if not idx:
        return s
    i = rng.choice(idx)
    toks[i] = toks[i] * rng.choice([2, 2, 3, 10])
    return b"".join(toks)


def m_token_swap(rng, s, ctx):
    toks = tokens(s)
    idx = significant(toks)
    if len(idx) < 2:
        return s
    i, j = rng.sample(idx, 2)
    if rng.random() < 0.5:  # a nearby pair is likelier to make a near-miss of the syntax
        j = idx[min(len(idx) - 1, idx.index(i) + 1)]
    toks[i], toks[j] = toks[j], toks[i]
    return b"".join(toks)


def m_token_shuffle(rng, s, ctx):
    toks = tokens(s)
    idx = significant(toks)
    if len(idx) < 2:
        return s
    start = rng.randrange(len(idx))
    window = idx[start:start + rng.randint(2, 8)]
    vals = [toks[i] for i in window]
    rng.shuffle(vals)
    for i, v in zip(window, vals):
        toks[i] = v
    return b"".join(toks)


def m_token_insert(rng, s, ctx):
    toks = tokens(s)
    i = rng.randrange(len(toks) + 1)
    pool = rng.choice([KEYWORDS, FUNCTIONS, PUNCT, HUGE_NUMBERS, ctx["names"] or [b"x"]])
    new = rng.choice(pool)
    if rng.random() < 0.5:
        new = b" " + new + b" "
    return b"".join(toks[:i] + [new] + toks[i:])


def lines_of(s):
    return s.split(b"\n")


def m_line_swap(rng, s, ctx):
    ls = lines_of(s)
    if len(ls) < 2:
        return s
    i, j = rng.sample(range(len(ls)), 2)
    ls[i], ls[j] = ls[j], ls[i]
    return b"\n".join(ls)


def m_line_delete(rng, s, ctx):
    ls = lines_of(s)
    for _ in range(rng.randint(1, 3)):
        if ls:
            del ls[rng.randrange(len(ls))]
    return b"\n".join(ls)


def m_line_duplicate(rng, s, ctx):
    ls = lines_of(s)
    i = rng.randrange(len(ls))
    ls.insert(rng.randrange(len(ls) + 1), ls[i])
    return b"\n".join(ls)


def m_line_shuffle(rng, s, ctx):
    ls = lines_of(s)
    rng.shuffle(ls)
    return b"\n".join(ls)


def m_line_splice(rng, s, ctx):
    other = lines_of(rng.choice(ctx["corpus"]))
    ls = lines_of(s)
    k = rng.randint(1, 4)
    start = rng.randrange(len(other))
    i = rng.randrange(len(ls) + 1)
    return b"\n".join(ls[:i] + other[start:start + k] + ls[i:])


def m_rename(rng, s, ctx):
    spans = [(m.start(), m.end()) for m in NAME_RE.finditer(s)]
    names = sorted(set(s[a:b] for a, b in spans))
    if not spans or not names:
        return s
    pool = names + KEYWORDS + FUNCTIONS
    if rng.random() < 0.5:  # one occurrence
        a, b = rng.choice(spans)
        return s[:a] + rng.choice(pool) + s[b:]
    old, new = rng.choice(names), rng.choice(pool)  # every occurrence of one name
    return re.sub(rb"\b" + re.escape(old) + rb"\b", lambda m: new, s)


def m_number(rng, s, ctx):
    spans = [(m.start(), m.end()) for m in NUMBER_RE.finditer(s)]
    if not spans:  # put a number where a dim or size is
        spans = [(m.start(), m.end()) for m in NAME_RE.finditer(s)]
        if not spans:
            return s
    a, b = rng.choice(spans)
    return s[:a] + rng.choice(HUGE_NUMBERS) + s[b:]


def rhs_spans(s):
    """(start, end) of the text after '=' on each line that has one."""
    out, pos = [], 0
    for line in lines_of(s):
        eq = line.find(b"=")
        if eq >= 0 and line[eq + 1:].strip():
            end = line.find(b"#")
            end = len(line) if end < 0 else end
            if end > eq + 1:
                out.append((pos + eq + 1, pos + end))
        pos += len(line) + 1
    return out


NEST_DEPTHS = [1, 2, 50, 150, 199, 200, 201, 202, 400, 1000, 5000, 100000]


def m_nest(rng, s, ctx):
    spans = rhs_spans(s)
    if not spans:
        return b"(" * 300 + s
    a, b = rng.choice(spans)
    e = s[a:b].strip()
    k = rng.choice(NEST_DEPTHS)
    kind = rng.randrange(6)
    if kind == 0:
        e = b"(" * k + e + b")" * k
    elif kind == 1:
        e = b"-" * k + b"(" + e + b")"
    elif kind == 2:
        e = b"tanh(" * k + e + b")" * k
    elif kind == 3:  # right-nested '@' (the parser recurses)
        mats = ctx["matrices"] or [b"W"]
        e = b"".join(rng.choice(mats) + b" @ " for _ in range(k)) + b"(" + e + b")"
    elif kind == 4:  # unbalanced: opened only
        e = b"(" * k + e
    else:  # closed only
        e = e + b")" * k
    return s[:a] + b" " + e + s[b:]


def m_chain(rng, s, ctx):
    """Long left-assoc chains: built by the parser's loops, walked recursively by sema."""
    spans = rhs_spans(s)
    if not spans:
        return s
    a, b = rng.choice(spans)
    e = s[a:b].strip()
    k = rng.randint(1, ctx["max_chain"])
    kind = rng.randrange(3)
    if kind == 0:
        term = rng.choice([b"0", b"1.5", b"(" + e + b")"])
        e = b"(" + e + b")" + (rng.choice([b" + ", b" - ", b" * ", b" / "]) + term) * k
    elif kind == 1:
        e = b"(" + e + b")" + b"[:]" * k
    else:  # a let chain: _c1 = RHS, _c2 = _c1, ..., and the line reads the last link
        chain = [b"let _c0 = " + e]
        chain += [b"let _c%d = _c%d" % (i + 1, i) for i in range(k)]
        ls = lines_of(s[:a] + b" _c%d" % k + s[b:])
        at = rng.randrange(len(ls) + 1)
        return b"\n".join(ls[:at] + chain + ls[at:])
    return s[:a] + b" " + e + s[b:]


MUTATORS = [  # (weight, mutator)
    (10, m_insert_bytes), (8, m_delete_bytes), (8, m_replace_bytes), (4, m_truncate),
    (8, m_token_delete), (6, m_token_duplicate), (8, m_token_swap), (5, m_token_shuffle),
    (8, m_token_insert), (4, m_line_swap), (5, m_line_delete), (4, m_line_duplicate),
    (1, m_line_shuffle), (3, m_line_splice), (8, m_rename), (8, m_number), (4, m_nest),
    (3, m_chain),
]


MAX_CASE_BYTES = 1 << 20  # a mutation that makes the file larger is dropped


def mutate(rng, s, ctx):
    weights = [w for w, _ in MUTATORS]
    used = []
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        fn = rng.choices([m for _, m in MUTATORS], weights)[0]
        t = fn(rng, s, ctx)
        if len(t) <= MAX_CASE_BYTES:
            s = t
            used.append(fn.__name__[2:])
    return s, used


def chunks(items, n=256):
    """Cases are made and run in chunks, so a long run holds only a few hundred at a time."""
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def odd_defines(rng, names):
    """Occasionally a -D on the command line: unknown names, zero, huge or malformed values."""
    if rng.random() > 0.05:
        return []
    name = rng.choice(names + [b"Q", b"", b"H H"]).decode("latin-1")
    value = rng.choice(["1", "2", "0", "-1", "1099511627776", "1099511627777", "9" * 30, "x",
                        "", "3.5", " 4"])
    return ["-D", f"{name}={value}"]


# ---------------------------------------------------------------------------------------------
# Running a case and judging it.

DIAG_RE = re.compile(r"^(.*?):(\d+):(\d+): (error|warning|note): ", re.M)


def run_cellc(cmd, timeout):
    try:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, ""
    return r.returncode, r.stderr.decode("utf-8", "replace")


def judge_exit(rc, err):
    """The failure kind, or None, from the exit code and stderr alone."""
    if rc is None:
        return "timeout"
    if rc < 0:
        return f"signal{-rc}"
    if rc not in (0, 1):
        return f"exit{rc}"
    has_error = re.search(r"(^|: )error: ", err, re.M) is not None
    if rc == 1 and not has_error:
        return "exit1-no-diagnostic"
    if rc == 0 and has_error:
        return "exit0-with-error"
    return None


def judge_locations(err, path, text):
    """A diagnostic whose line or column lies outside the file is a failure too."""
    lines = text.split(b"\n")
    for m in DIAG_RE.finditer(err):
        if m.group(1) != path:
            continue
        line, col = int(m.group(2)), int(m.group(3))
        if line < 1 or line > len(lines) or col < 1 or col > len(lines[line - 1]) + 1:
            return "diagnostic-out-of-range"
    return None


def compile_case(cellc, path, text, defines, timeout):
    with open(path, "wb") as f:
        f.write(text)
    cmd = [cellc, "compile", path, "--emit=grad"] + defines
    rc, err = run_cellc(cmd, timeout)
    kind = judge_exit(rc, err) or judge_locations(err, path, text)
    return kind, rc, err, cmd


# ---------------------------------------------------------------------------------------------
# .npy cases.

def npy_bytes(header, major=1, data=b"", pad=True):
    if isinstance(header, str):
        header = header.encode("latin-1")
    if pad:
        lensize = 2 if major == 1 else 4
        total = 8 + lensize + len(header) + 1
        header = header + b" " * ((64 - total % 64) % 64) + b"\n"
    length = struct.pack("<H", len(header)) if major == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([major, 0]) + length + header + data


def header_text(descr, shape, fortran=False):
    dims = ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "")
    return "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }" % (descr, fortran, dims)


def parse_npy(raw):
    """(descr, fortran_order, shape, data bytes) of a well-formed .npy, else None."""
    if len(raw) < 10 or raw[:6] != b"\x93NUMPY" or raw[6] not in (1, 2, 3):
        return None
    lensize = 2 if raw[6] == 1 else 4
    if len(raw) < 8 + lensize:
        return None
    n = int.from_bytes(raw[8:8 + lensize], "little")
    start = 8 + lensize
    if len(raw) < start + n:
        return None
    try:
        d = ast.literal_eval(raw[start:start + n].decode("utf-8" if raw[6] == 3 else "latin-1"))
    except Exception:
        return None
    if not isinstance(d, dict) or set(d) != {"descr", "fortran_order", "shape"}:
        return None
    shape = d["shape"]
    if not isinstance(d["descr"], str) or not isinstance(d["fortran_order"], bool) or \
            not isinstance(shape, tuple) or \
            not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in shape):
        return None
    return d["descr"], d["fortran_order"], shape, raw[start + n:]


def valid_for_cellc(path, expected_shape):
    """Is PATH a file cellc must accept in place of one of shape EXPECTED_SHAPE?"""
    if not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        p = parse_npy(f.read())
    if p is None:
        return False
    descr, fortran, shape, data = p
    size = {"<f4": 4, "=f4": 4, "<f8": 8, "=f8": 8}.get(descr)
    count = 1
    for d in shape:
        count *= d
    return size is not None and not fortran and tuple(shape) == tuple(expected_shape) and \
        len(data) == count * size


def mutate_npy(rng, path, shape):
    """Breaks the .npy at PATH in place (or removes it). Returns the mutation's name."""
    with open(path, "rb") as f:
        raw = f.read()
    p = parse_npy(raw)
    descr, _, _, data = p
    choices = ["missing", "empty", "magic", "version", "header_len", "random_header_text",
               "random_header_bytes", "dtype", "float64", "fortran", "shape_rank", "shape_value",
               "shape_zero", "shape_overflow", "shape_malformed", "truncate_data", "extra_data",
               "truncate_header", "flip_header_bytes", "random_data", "directory",
               "dangling_symlink", "no_descr", "no_shape", "version23", "huge_header_len",
               "shape_huge_alloc"]
    what = rng.choice(choices)
    out = None
    if what == "missing":
        os.remove(path)
    elif what == "empty":
        out = b""
    elif what == "magic":
        i = rng.randrange(6)
        out = raw[:i] + bytes([rng.randrange(256)]) + raw[i + 1:] if rng.random() < 0.7 \
            else rand_bytes(rng, rng.randint(0, 12))
    elif what == "version":
        out = raw[:6] + bytes([rng.choice([0, 4, 9, 255])]) + raw[7:]
    elif what == "header_len":
        n = rng.choice([0, 1, 5, 60, 70, 118, 200, 65535])
        out = raw[:8] + struct.pack("<H", n) + raw[10:]
    elif what == "huge_header_len":
        out = npy_bytes(header_text(descr, shape), 2, data)
        out = out[:8] + struct.pack("<I", rng.choice([1 << 20, (1 << 20) + 1, 1 << 31,
                                                      (1 << 32) - 1])) + out[12:]
    elif what == "random_header_text":
        text = "".join(rng.choice("{}()[]':, descrshapefortran_orderTrueFalse<f48012")
                       for _ in range(rng.randint(0, 80)))
        out = npy_bytes(text, 1, data)
    elif what == "random_header_bytes":
        out = npy_bytes(rand_bytes(rng, rng.randint(0, 120)), 1, data)
    elif what == "dtype":
        new = rng.choice(["<f2", ">f4", ">f8", "<i4", "<i8", "|u1", "|b1", "<c8", "<c16", "|O",
                          "<U4", "", "f4", "float32", "<f16", "<f4 ", "<F4"])
        out = npy_bytes(header_text(new, shape), 1, data)
    elif what == "float64":  # valid: same numbers as float64
        values = np.frombuffer(data, dtype="<f4" if descr == "<f4" else "<f8").astype("<f8")
        out = npy_bytes(header_text("<f8", shape), 1, values.tobytes())
    elif what == "fortran":
        out = npy_bytes(header_text(descr, shape, True), 1, data)
    elif what == "shape_rank":
        new = list(shape)
        if new and rng.random() < 0.5:
            del new[rng.randrange(len(new))]
        else:
            new.insert(rng.randrange(len(new) + 1), 1)
        out = npy_bytes(header_text(descr, new), 1, data)
    elif what == "shape_value":
        new = list(shape)
        if new:
            i = rng.randrange(len(new))
            new[i] = max(1, new[i] + rng.choice([-1, 1, 2, new[i]]))
        elif rng.random() < 0.5:
            new = [1]
        out = npy_bytes(header_text(descr, new), 1, data)
    elif what == "shape_zero":
        new = list(shape) or [0]
        new[rng.randrange(len(new))] = 0
        out = npy_bytes(header_text(descr, new), 1, b"")
    elif what == "shape_overflow":  # more than 2^40 elements, or products that overflow int64
        new = rng.choice([[1 << 41], [1 << 62], [1 << 63], [1 << 64], [10 ** 30],
                          [1 << 31, 1 << 31], [1 << 32, 1 << 32, 1 << 32], [3, 1 << 62],
                          [99999999999999999999]])
        out = npy_bytes(header_text(descr, new), 1, data)
    elif what == "shape_huge_alloc":  # must be refused before anything is allocated
        new = rng.choice([[1 << 40], [1 << 20, 1 << 20], [1 << 30], [1 << 28, 2]])
        out = npy_bytes(header_text(descr, new), 1, data)
    elif what == "shape_malformed":
        text = rng.choice(["(-1,)", "(3.5,)", "('a',)", "(2, -3)", "(1e3,)", "[3, 4]", "3",
                           "(,)", "((3,),)", "(0x10,)", "(", "(3, 4", "None", "(3 4)"])
        out = npy_bytes("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, text),
                        1, data)
    elif what == "truncate_data":
        out = raw[:len(raw) - len(data) + rng.randrange(max(1, len(data)))]
    elif what == "extra_data":
        out = raw + rand_bytes(rng, rng.randint(1, 9))
    elif what == "truncate_header":
        out = raw[:rng.randrange(len(raw) - len(data) + 1)]
    elif what == "flip_header_bytes":
        b = bytearray(raw)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(raw) - len(data))] = rng.randrange(256)
        out = bytes(b)
    elif what == "random_data":  # still valid: any float bits are accepted
        out = raw[:len(raw) - len(data)] + bytes(rng.randrange(256) for _ in data)
    elif what == "directory":
        os.remove(path)
        os.mkdir(path)
    elif what == "dangling_symlink":
        os.remove(path)
        os.symlink(path + ".nowhere", path)
    elif what == "no_descr":
        out = npy_bytes("{'fortran_order': False, 'shape': %s, }" % (tuple(shape),), 1, data)
    elif what == "no_shape":
        out = npy_bytes("{'descr': '%s', 'fortran_order': False, }" % descr, 1, data)
    elif what == "version23":  # valid: the same array in format 2.0 or 3.0
        out = npy_bytes(header_text(descr, shape), rng.choice([2, 3]), data)
    if out is not None:
        with open(path, "wb") as f:
            f.write(out)
    return what


def run_npy_case(cellc, cell, base, work, name, shape, optional, seed, timeout):
    rng = random.Random(seed)
    indir, outdir = work + "_in", work + "_out"
    shutil.copytree(base, indir)
    target = os.path.join(indir, name)
    what = mutate_npy(rng, target, shape)
    cmd = [cellc, "run", cell, "--inputs", indir, "--outputs", outdir, "--backward"]
    rc, err = run_cellc(cmd, timeout)
    kind = judge_exit(rc, err)
    if kind is None and rc == 1:
        left = [f for _, _, fs in os.walk(outdir) for f in fs] if os.path.exists(outdir) else []
        if left:
            kind = "exit1-left-outputs"
        elif not re.search(r"(?:^|[\s/'\"])" + re.escape(name) + r"(?=[:\s'\"]|$)", err, re.M):
            # A valid .npy with another shape may be blamed on the file it disagrees with.
            p = parse_npy(open(target, "rb").read()) if os.path.isfile(target) else None
            if not (p and "expected shape" in err):
                kind = "exit1-file-not-named"
    elif kind is None and rc == 0:
        missing_ok = optional and not os.path.isfile(target)
        if not missing_ok and not valid_for_cellc(target, shape):
            kind = "exit0-on-invalid-file"
    return kind, rc, err, cmd, what, indir, outdir


# ---------------------------------------------------------------------------------------------

class Keeper:
    """Keeps failing inputs under OUT/failures, at most MAX_KEPT of them."""

    def __init__(self, out):
        self.dir = os.path.join(out, "failures")
        self.lock = threading.Lock()
        self.kept = 0

    def keep(self, stem, payload, info):
        with self.lock:
            if self.kept >= MAX_KEPT:
                return None
            self.kept += 1
            os.makedirs(self.dir, exist_ok=True)
        base = os.path.join(self.dir, stem)
        if isinstance(payload, bytes):
            with open(base + ".cell", "wb") as f:
                f.write(payload)
        else:
            shutil.copytree(payload, base + "_in", symlinks=True)
        with open(base + ".txt", "w") as f:
            f.write(info)
        return base


def minimize(cellc, text, defines, kind, path, timeout, budget=1500):
    """Greedy delta debugging: drop chunks of lines, then of tokens, while the failure stays.
    Stops after BUDGET runs of cellc (a 10000-line chain would take tens of thousands)."""
    runs = 0

    def fails(t):
        nonlocal runs
        runs += 1
        k, _, _, _ = compile_case(cellc, path, t, defines, timeout)
        return k == kind

    for split, join in [(lambda t: t.split(b"\n"), b"\n".join), (tokens, b"".join)]:
        units = split(text)
        chunk = max(1, len(units) // 2)
        while chunk >= 1 and runs < budget:
            i, changed = 0, False
            while i < len(units) and runs < budget:
                trial = units[:i] + units[i + chunk:]
                if trial and fails(join(trial)):
                    units, changed = trial, True
                else:
                    i += chunk
            if not changed:
                chunk //= 2
        text = join(units)
    return text


def cell_dims(cellc, cell):
    """The free dims of a cell, from the header of --emit=ir: 'cell lstm [I, H]'."""
    out = subprocess.run([cellc, "compile", cell, "--emit=ir"], capture_output=True, check=True,
                         text=True).stdout
    m = re.match(r"cell \S+ \[([^\]]*)\]", out)
    return [d.strip() for d in m.group(1).split(",")] if m and m.group(1).strip() else []


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cellc")
    ap.add_argument("examples")
    ap.add_argument("count", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--out", default="fuzz-out")
    ap.add_argument("--npy-count", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0)
    ap.add_argument("--max-chain", type=int, default=2000)
    ap.add_argument("--known-bugs", action="store_true")
    ap.add_argument("--minimize", action="store_true")
    ap.add_argument("--memory-limit", type=int, default=MEMORY_LIMIT >> 20,
                    help="address space of cellc in MiB; 0: none (for sanitizer builds)")
    args = ap.parse_args()
    # Set on this process rather than in a preexec_fn, which would keep subprocess from using
    # vfork; the children inherit it. This script itself needs far less.
    if args.memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (args.memory_limit << 20,
                                                resource.getrlimit(resource.RLIMIT_AS)[1]))
    npy_count = args.count // 5 if args.npy_count is None else args.npy_count
    cellc = os.path.abspath(args.cellc)

    cells = sorted(os.path.join(args.examples, f) for f in os.listdir(args.examples)
                   if f.endswith(".cell"))
    corpus = [open(c, "rb").read() for c in cells]
    os.makedirs(args.out, exist_ok=True)
    work = os.path.join(args.out, "work")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    keeper = Keeper(args.out)

    # Compile cases: case i depends only on the seed and i, so a run is reproducible.
    def make_case(i):
        ci = i % len(cells)
        rng = random.Random(f"{args.seed}/{i}")
        src = corpus[ci]
        names = sorted(set(NAME_RE.findall(src)) - set(KEYWORDS) - set(FUNCTIONS))
        matrices = [m.group(1) for m in re.finditer(rb"\b(\w+)\s*\[[^\],]*,[^\]]*\]", src)]
        ctx = {"names": names, "matrices": matrices, "corpus": corpus,
               "max_chain": args.max_chain}
        text, used = mutate(rng, src, ctx)
        return i, os.path.basename(cells[ci])[:-5], text, odd_defines(rng, names), used

    known = {name: 0 for name, _, _, _ in KNOWN_BUGS}

    def triage(part, kind, err, what=None):
        """'known' (counted apart under --known-bugs) or 'failure'."""
        bug = known_bug(part, kind, err, what) if args.known_bugs else None
        if bug:
            known[bug] += 1
            return "known", bug
        return "failure", None

    def known_note(before):
        n = {k: v - before.get(k, 0) for k, v in known.items() if v - before.get(k, 0)}
        return "" if not n else ", and %d matching known bugs (%s)" % (
            sum(n.values()), ", ".join(f"{k}: {v}" for k, v in n.items()))

    stats = {"compiled": 0, "rejected": 0, "failures": 0}
    failures = []

    def do_compile(case):
        i, cell, text, defines, used = case
        path = os.path.join(work, f"case{i}_{cell}.cell")
        kind, rc, err, cmd = compile_case(cellc, path, text, defines, args.timeout)
        os.remove(path)
        return case, kind, rc, err, cmd

    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        results = (r for batch in chunks(range(args.count))
                   for r in pool.map(do_compile, [make_case(i) for i in batch]))
        for case, kind, rc, err, cmd in results:
            i, cell, text, defines, used = case
            if kind is None:
                stats["compiled" if rc == 0 else "rejected"] += 1
                continue
            verdict, bug = triage("compile", kind, err)
            stem = f"{'known_' + bug if bug else kind}_{cell}_{i}"
            info = (f"kind: {kind}\nexit: {rc}\nmutations: {' '.join(used)}\n"
                    f"defines: {' '.join(defines)}\ncommand: {' '.join(cmd)}\n"
                    f"stderr (tail):\n{err[-3000:]}\n")
            if verdict == "known":
                continue
            stats["failures"] += 1
            base = keeper.keep(stem, text, info)
            if base:
                failures.append((stem, base, text, defines, kind))
            print(f"FAIL {stem}: {' '.join(used)}" + (f" -> {base}.cell" if base else ""))
    print(f"fuzz compile: {args.count} cases, {stats['compiled']} compiled, "
          f"{stats['rejected']} rejected with a diagnostic, {stats['failures']} failures"
          f"{known_note({})}")
    after_compile = dict(known)

    if args.minimize:
        for stem, base, text, defines, kind in failures:
            if base:
                small = minimize(cellc, text, defines, kind, os.path.join(work, "min.cell"),
                                 args.timeout)
                with open(base + ".min.cell", "wb") as f:
                    f.write(small)
                print(f"minimized {stem}: {len(text)} -> {len(small)} bytes: {base}.min.cell")

    # .npy cases: valid inputs per example from `cellc gen`, then one file broken per case.
    bases = []
    for c in cells if npy_count else []:
        name = os.path.basename(c)[:-5]
        base = os.path.join(work, "gen_" + name)
        dims = cell_dims(cellc, c)
        cmd = [cellc, "gen", c, "--outputs", base, "--T", "3", "--B", "2", "--backward"]
        for k, d in enumerate(dims):
            cmd += ["--dim", f"{d}={3 + k}"]
        if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0:
            print(f"fuzz: skipping {name} for the .npy cases: cellc gen failed")
            continue
        files = []
        for f in sorted(os.listdir(base)):
            p = parse_npy(open(os.path.join(base, f), "rb").read())
            optional = f.endswith(".init.npy") or f.endswith(".final.npy")
            files.append((f, p[2], optional))
        bases.append((c, name, base, files))
    npy_cases = []
    for i in range(npy_count if bases else 0):
        c, name, base, files = bases[i % len(bases)]
        rng = random.Random(f"npy/{args.seed}/{i}")
        f, shape, optional = rng.choice(files)
        npy_cases.append((i, c, name, base, f, shape, optional))

    nstats = {"ran": 0, "rejected": 0, "failures": 0}

    def do_npy(case):
        i, c, name, base, f, shape, optional = case
        result = run_npy_case(cellc, c, base, os.path.join(work, f"npy{i}"), f, shape, optional,
                              f"npy/{args.seed}/{i}/m", args.timeout)
        return case, result

    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        results = (r for batch in chunks(npy_cases) for r in pool.map(do_npy, batch))
        for case, (kind, rc, err, cmd, what, indir, outdir) in results:
            i, c, name, base, f, shape, optional = case
            if kind is None:
                nstats["ran" if rc == 0 else "rejected"] += 1
            elif triage("run", kind, err, what)[0] == "failure":
                nstats["failures"] += 1
                stem = f"npy_{kind}_{name}_{f[:-4]}_{what}_{i}"
                info = (f"kind: {kind}\nexit: {rc}\nbroken file: {f} ({what})\n"
                        f"command: {' '.join(cmd)}\nstderr (tail):\n{err[-3000:]}\n")
                kept = keeper.keep(stem, indir, info)
                print(f"FAIL {stem}" + (f" -> {kept}_in" if kept else ""))
            shutil.rmtree(indir, ignore_errors=True)
            shutil.rmtree(outdir, ignore_errors=True)
    print(f"fuzz run: {len(npy_cases)} cases with a broken .npy, {nstats['ran']} ran, "
          f"{nstats['rejected']} rejected with a diagnostic, {nstats['failures']} failures"
          f"{known_note(after_compile)}")

    total = args.count + len(npy_cases)
    nfail = stats["failures"] + nstats["failures"]
    print(f"fuzz: {total} cases, {stats['compiled'] + nstats['ran']} compiled or ran, "
          f"{stats['rejected'] + nstats['rejected']} rejected with a diagnostic, "
          f"{nfail} failures{known_note({})}")
    if args.known_bugs:
        for name, what, test, _ in KNOWN_BUGS:
            print(f"fuzz: known bug {name} ({known[name]} cases): {what}; reproducer: {test}")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if nfail else 0


if __name__ == "__main__":
    sys.exit(main())
