#!/usr/bin/env python3
"""Differential testing with random cells: well-formed cells, typed and shape-correct by
construction, each compiled to a library and run forward and backward against the reference
interpreter at random shapes, and the interpreter's gradients checked against a central finite
difference of the loss along a random direction.

usage: random_cells.py CELLC WORK_DIR [--cells N] [--seed S] [--keep] [--cell FILE]
                       [--progress K]
Cell k uses the seed S + k; a failure prints it with the cell's text, so
`random_cells.py CELLC DIR --cells 1 --seed S+k` replays it. --cell checks FILE instead of a
generated cell (a minimized regression test), with shapes drawn from S. --progress K prints
the counts so far after every K cells (for long runs). Exits 1 on any failure.

A cell has 1-3 free dims (sometimes a fixed one), 1-2 inputs, 0-2 states and 1-2 outputs, and
its expressions draw on every operator: + - * /, unary minus, sigmoid, tanh, relu, exp, log,
softplus, hard_sigmoid, sqrt, rsqrt, abs, min, max, clamp, matvecs of inputs, states and
intermediate values, split, slices, concat, sum and mean, dims and numbers as scalars. Values
stay in ranges where float32 and float64 agree to the tolerances below (exp of a tanh, log of
1 + a sigmoid, a divisor 1 + e^2, ...).

Tolerances: library vs interpreter |lib - ref| <= 2e-3 * (1 + |ref|) per element (float32
kernels against float64, through a few nonlinear layers); finite differences (float64 math,
float32 files) |fd - grad . d| <= 2e-2 * (|fd| + |grad . d|) + 2e-3 at eps = 1e-3 or 1e-4; where
the two differences disagree with each other the gradient check is inconclusive (a kink within
the step) and counted apart, not as a failure.
"""
import os
import random
import re
import shutil
import subprocess
import sys

import numpy as np

UNARY = ["sigmoid({})", "tanh({})", "relu({})", "softplus({})", "hard_sigmoid({})", "abs({})",
         "-({})", "exp(tanh({}))", "log(1 + sigmoid({}))", "sqrt(1 + ({0}) * ({0}))",
         "rsqrt(1 + ({0}) * ({0}))", "clamp({}, -0.5, 0.5)"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({0}) / (1 + ({1}) * ({1}))",
          "min({}, {})", "max({}, {})"]


class CellGen:
    """Builds one random cell. Sizes are strings: a dim, "2*D0" or "D0 + D1"."""

    def __init__(self, rng):
        self.rng = rng
        self.dims = ["D%d" % i for i in range(rng.randint(1, 3))]
        self.fixed = {"K": rng.choice([1, 3, 5])} if rng.random() < 0.3 else {}
        self.vectors = {}  # name -> size of every readable vector (inputs, states, lets)
        self.params = []   # declarations
        self.lets = []
        self.names = 0  # lets and split parts are numbered in order of creation
        self.used = set()
        self.inputs = ["x0"] + (["x1"] if rng.random() < 0.5 else [])
        # Every free dim is the size of an input or a state, so that shapes bind it.
        sizes = list(self.dims)
        self.input_size = {x: sizes[i] if i < len(sizes) else rng.choice(self.base_sizes())
                           for i, x in enumerate(self.inputs)}
        for x, s in self.input_size.items():
            self.vectors[x] = s
        self.states = {}
        for i in range(rng.randint(0, 2)):
            size = sizes[len(self.inputs) + i] if len(self.inputs) + i < len(sizes) else \
                rng.choice(self.base_sizes())
            self.states["s%d" % i] = size
            self.vectors["s%d" % i] = size
        for d in sizes[len(self.inputs) + len(self.states):]:  # dims still unbound
            self.states["s%d" % len(self.states)] = d
            self.vectors["s%d" % (len(self.states) - 1)] = d

    def base_sizes(self):
        return self.dims + list(self.fixed)

    def sizes(self):
        b = self.base_sizes()
        return b + ["2*" + b[0]] + (["%s + %s" % (b[0], b[1])] if len(b) > 1 else [])

    def param(self, shape):
        name = "p%d" % len(self.params)
        self.params.append("%s[%s]" % (name, ", ".join(shape)))
        return name

    def leaf(self, size):
        have = [v for v, s in self.vectors.items() if s == size]
        r = self.rng.random()
        if have and r < 0.6:
            v = self.rng.choice(have)
            self.used.add(v)
            return v
        if r < 0.8 or not self.vectors:
            return self.param([size])
        src = self.rng.choice(sorted(self.vectors))
        self.used.add(src)
        return "%s @ %s" % (self.param([size, self.vectors[src]]), src)

    def scalar(self, depth):
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice(["0.5", "2", "-1.5"])
        if r < 0.5:
            return self.rng.choice(self.base_sizes())  # a dim as a number
        size = self.rng.choice(self.sizes())
        return "%s(%s)" % (self.rng.choice(["sum", "mean"]), self.expr(size, depth - 1))

    def expr(self, size, depth):
        if depth <= 0:
            return self.leaf(size)
        r = self.rng.random()
        if r < 0.3:
            return self.rng.choice(UNARY).format(self.expr(size, depth - 1))
        if r < 0.55:
            return self.rng.choice(BINARY).format(self.expr(size, depth - 1),
                                                  self.expr(size, depth - 1))
        if r < 0.65:
            return "(%s) * (%s)" % (self.scalar(depth), self.expr(size, depth - 1))
        if r < 0.75:  # a matvec of an intermediate value
            src = self.rng.choice(self.sizes())
            return "%s @ (%s)" % (self.param([size, src]), self.expr(src, depth - 1))
        if r < 0.85 and "+" not in size and "*" not in size:  # a slice or a split part
            whole = "2*" + size
            v = self.let(whole, depth - 1)
            if self.rng.random() < 0.5:
                return "%s[%s:%s]" % (v, size, whole) if self.rng.random() < 0.5 \
                    else "%s[0:%s]" % (v, size)
            self.names += 1
            a, b = "a%d" % self.names, "b%d" % self.names
            self.lets.append("let %s, %s = split(%s, 2)" % (a, b, v))
            return self.rng.choice([a, b])
        if r < 0.95 and size.startswith("2*"):
            half = size[2:]
            return "concat(%s, %s)" % (self.expr(half, depth - 1), self.expr(half, depth - 1))
        if r < 0.95 and " + " in size:
            a, b = size.split(" + ")
            return "concat(%s, %s)" % (self.expr(a, depth - 1), self.expr(b, depth - 1))
        return self.leaf(size)

    def let(self, size, depth):
        self.names += 1
        name = "t%d" % self.names
        self.lets.append("let %s = %s" % (name, self.expr(size, depth)))
        self.vectors[name] = size
        return name

    def text(self):
        rng = self.rng
        body = []
        for s, size in self.states.items():
            body.append("%s' = %s" % (s, self.expr(size, rng.randint(1, 3))))
        outputs = []
        for k in range(rng.randint(1, 2)):
            size = rng.choice(self.sizes())
            outputs.append(["y%d" % k, size, self.expr(size, rng.randint(1, 3))])
        if self.states and rng.random() < 0.5:
            s = rng.choice(sorted(self.states))
            outputs.append([s + "'", self.states[s], None])
        # Every input and state read somewhere: added to the first output when not yet read.
        for v in self.inputs + list(self.states):
            if v not in self.used:
                size = self.vectors[v]
                outputs.append(["u_" + v, size, "tanh(%s)" % v])
        dims = ", ".join(self.dims + ["%s = %d" % kv for kv in self.fixed.items()])
        lines = ["cell rnd", "dim " + dims]
        lines += ["input %s[%s]" % (x, self.input_size[x]) for x in self.inputs]
        for s, size in self.states.items():
            init = rng.choice(["", " = 0.5", " = -1"])
            lines.append("state %s[%s]%s" % (s, size, init))
        if self.params:
            lines.append("param " + ", ".join(self.params))
        lines += self.lets + body
        for name, size, e in outputs:
            lines.append("output %s" % name if e is None else "output %s = %s" % (name, e))
        return "\n".join(lines) + "\n"


KINK = "kink"  # the finite differences were inconclusive


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def free_dims(cellc, cell):
    ir = run([cellc, "compile", cell, "--emit=ir"]).stdout
    header = re.match(r"cell \w+ \[([^\]]*)\]", ir)
    return [d.strip() for d in header.group(1).split(",") if d.strip()]


def load_dir(d):
    return {f: np.load(os.path.join(d, f)).astype(np.float64) for f in os.listdir(d)}


def loss(out, seeds):
    """Σ seed · value over the outputs and final states the seeds name."""
    total = 0.0
    for f, v in out.items():
        if f.startswith("grad_") or not (f.endswith(".npy")):
            continue
        seed = "grad_" + f
        if seed in seeds:
            total += float((seeds[seed] * v).sum())
    return total


def check_cell(cellc, work, seed, given_text=None):
    rng = random.Random(seed)
    text = given_text if given_text is not None else CellGen(rng).text()
    d = os.path.join(work, "cell%d" % seed)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    cell = os.path.join(d, "rnd.cell")
    with open(cell, "w") as f:
        f.write(text)
    try:
        run([cellc, "compile", cell, "-o", os.path.join(d, "so", "librnd.so")])
    except subprocess.CalledProcessError as e:
        # The first lines may be warnings; the error that stopped it comes last.
        lines = e.stderr.strip().splitlines() or ["(no message)"]
        return "does not compile (exit %d): %s" % (e.returncode, lines[-1]), text
    T, B = rng.choice([1, 2, 3]), rng.choice([1, 2, 3, 5])
    dim_args = []
    for name in free_dims(cellc, cell):
        dim_args += ["--dim", "%s=%d" % (name, rng.choice([1, 2, 3, 7, 17, 33]))]
    run([cellc, "gen", cell, "--outputs", d + "/in", "--T", str(T), "--B", str(B), "--seed",
         str(seed), "--backward"] + dim_args)
    run([cellc, "run", cell, "--inputs", d + "/in", "--outputs", d + "/ref", "--backward",
         "--float64"])
    run([cellc, "run", os.path.join(d, "so", "librnd.so"), "--inputs", d + "/in",
         "--outputs", d + "/lib", "--backward"])
    ref, lib = load_dir(d + "/ref"), load_dir(d + "/lib")
    for f, r in ref.items():
        got = lib[f]
        if got.shape != r.shape or not np.all(np.abs(got - r) <= 2e-3 * (1 + np.abs(r))):
            worst = np.abs(got - r).max() if got.shape == r.shape else "shape"
            return "library differs from the interpreter in %s (max abs %s)" % (f, worst), text
    # Finite differences of the loss along a random direction of every input, initial state and
    # param, against the interpreter's gradients.
    given = load_dir(d + "/in")
    seeds = {f: v for f, v in given.items() if f.startswith("grad_")}
    prng = np.random.default_rng(seed)
    direction = {f: prng.uniform(-1, 1, v.shape) for f, v in given.items()
                 if not f.startswith("grad_")}
    analytic = 0.0
    for f, dv in direction.items():
        g = "grad_" + f
        if g in ref:
            analytic += float((ref[g] * dv).sum())
    # A step across a kink of relu, abs, min, max or clamp spoils a difference: a real error
    # fails at both step sizes with differences that agree with each other; differences that
    # disagree mean a kink within the step (a relu input within 1e-5 of 0, say): inconclusive.
    # The outputs are float64 (--float64), so the small step can be 1e-8 (rounding then costs
    # ~1e-16 * |loss| / 2e-8) and a kink fools both steps only within 1e-8 of the point (seed
    # 500647 had one 2e-6 away, inside steps of 1e-3 and 1e-4 of float32 outputs).
    def close(a, b):
        return abs(a - b) <= 2e-2 * (abs(a) + abs(b)) + 2e-3

    fds = []
    for eps in (1e-4, 1e-8):
        values = []
        for sign in (1, -1):
            pd = os.path.join(d, "fd%+d" % sign)
            shutil.rmtree(pd, ignore_errors=True)
            os.makedirs(pd)
            for f, v in given.items():
                np.save(os.path.join(pd, f), v + sign * eps * direction[f] if f in direction else v)
            run([cellc, "run", cell, "--inputs", pd, "--outputs", pd + "/out", "--float64"])
            values.append(loss(load_dir(pd + "/out"), seeds))
        fd = (values[0] - values[1]) / (2 * eps)
        if close(fd, analytic):
            return None, text
        fds.append(fd)
    if not close(fds[0], fds[1]):
        return KINK, text
    return "gradient %.6g differs from finite differences %s" % (
        analytic, ", ".join("%.6g" % f for f in fds)), text


def checked(cellc, work, seed, given):
    """check_cell, with a command that fails (an error where a run should succeed) reported as
    the cell's failure rather than ending the run."""
    try:
        return check_cell(cellc, work, seed, given)
    except subprocess.CalledProcessError as e:
        cmd = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(e.cmd[:2]))
        last = (e.stderr or "").strip().splitlines()
        return "%s failed: %s" % (cmd, last[-1] if last else "exit %d" % e.returncode), \
            (given if given is not None else CellGen(random.Random(seed)).text())


def main():
    args = sys.argv[1:]
    opts = {"--cells": "20", "--seed": "1", "--progress": "0"}
    keep = "--keep" in args
    args = [a for a in args if a != "--keep"]
    given = None
    if "--cell" in args:
        i = args.index("--cell")
        with open(args[i + 1]) as f:
            given = f.read()
        del args[i:i + 2]
    for k in list(opts):
        if k in args:
            i = args.index(k)
            opts[k] = args[i + 1]
            del args[i:i + 2]
    cellc, work = args
    n, seed0, progress = int(opts["--cells"]), int(opts["--seed"]), int(opts["--progress"])
    failures = kinks = 0
    for k in range(n):
        seed = seed0 + k
        why, text = checked(cellc, work, seed, given)
        if why == KINK:
            kinks += 1
            print("KINK seed %d: the finite differences at two step sizes disagree (a kink "
                  "within the step); the library agreed with the interpreter" % seed)
        elif why:
            failures += 1
            print("FAIL seed %d: %s\n%s" % (seed, why, text))
        if not keep and why is None:
            shutil.rmtree(os.path.join(work, "cell%d" % seed), ignore_errors=True)
        if progress and (k + 1) % progress == 0:
            print("progress: %d cells from seed %d, %d failed, %d kinks" % (k + 1, seed0,
                  failures, kinks), flush=True)
    print("random cells: %d from seed %d, %d passed, %d failed (%d gradients not checked: a kink)"
          % (n, seed0, n - failures, failures, kinks))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
