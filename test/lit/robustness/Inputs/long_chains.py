#!/usr/bin/env python3
"""Writes a cell whose expression tree or definition chain is N links long, to stdout.

usage: long_chains.py plus|slice|let|state N

The parser bounds its own recursion (200 levels), but a left-associative chain (x + x + ...),
a chain of slices (x[:][:]...), a chain of lets (let a1 = a0, let a2 = a1, ...) or of state
updates (s0' = s1', s1' = s2', ...) is built by loops and any length parses; sema then walks
it recursively. cellc crashed (stack overflow, SIGSEGV) from about N = 7000 (let, state) and
N = 8000 (plus, slice) on a RelWithDebInfo build; see test/lit/robustness/long_chains.test.
"""
import sys

kind, n = sys.argv[1], int(sys.argv[2])
head = "cell chain\ndim H\ninput x[H]\n"
if kind == "plus":
    body = "state h[H]\nh' = x" + "+x" * n + "\noutput h'\n"
elif kind == "slice":
    body = "state h[H]\nh' = x" + "[:]" * n + "\noutput h'\n"
elif kind == "let":
    body = "state h[H]\nlet a0 = x\n" + "".join(f"let a{i + 1} = a{i}\n" for i in range(n)) + \
        f"h' = a{n}\noutput h'\n"
elif kind == "state":
    body = "state " + ", ".join(f"s{i}[H]" for i in range(n + 1)) + "\n" + \
        "".join(f"s{i}' = s{i + 1}'\n" for i in range(n)) + f"s{n}' = x\noutput s0'\n"
else:
    sys.exit(f"unknown kind {kind}")
sys.stdout.write(head + body)
