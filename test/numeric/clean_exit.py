#!/usr/bin/env python3
"""Runs one command the way fuzz_frontend.py runs cellc and checks that it ends cleanly.

usage: clean_exit.py [--rc 0|1] [--stderr-has TEXT]... [--timeout SECONDS] [--no-files DIR]
                     -- COMMAND...

The command runs with its address space limited to 1 GiB and a timeout (default 10 s). Clean
means: not killed by a signal, not past the timeout, exit code 0 or 1, an `error:` diagnostic
on stderr when it exits 1 and none when it exits 0. --rc also requires that exit code,
--stderr-has that text on stderr, --no-files that DIR holds no file afterwards. Prints
`clean exit N` and exits 0 when all hold; otherwise prints what went wrong (and the stderr
tail) and exits 1. The tests of test/lit/robustness run cellc's reproducers through it.
"""
import argparse
import os
import resource
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzz_frontend import MEMORY_LIMIT, judge_exit  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rc", type=int, choices=[0, 1])
    ap.add_argument("--stderr-has", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--no-files")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command")
    # An AddressSanitizer build maps terabytes of shadow memory, so it runs with no address
    # space limit; ASAN_OPTIONS' max_allocation_size_mb (scripts/sanitize.sh) bounds it instead.
    if os.environ.get("CELLC_SANITIZER") != "address":
        resource.setrlimit(resource.RLIMIT_AS,
                           (MEMORY_LIMIT, resource.getrlimit(resource.RLIMIT_AS)[1]))
    try:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=args.timeout)
        rc, err = r.returncode, r.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        rc, err = None, ""
    problems = []
    kind = judge_exit(rc, err)
    if kind:
        problems.append(kind + ("" if rc is None else f" (exit status {rc})"))
    if args.rc is not None and rc != args.rc:
        problems.append(f"expected exit {args.rc}, got {rc}")
    for text in args.stderr_has:
        if text not in err:
            problems.append(f"stderr lacks {text!r}")
    if args.no_files and os.path.exists(args.no_files):
        left = [f for _, _, fs in os.walk(args.no_files) for f in fs]
        if left:
            problems.append(f"left files in {args.no_files}: {' '.join(sorted(left)[:5])}")
    if problems:
        print(f"NOT CLEAN: {' '.join(cmd)}")
        for p in problems:
            print(f"  {p}")
        print("stderr (tail):\n" + err[-2000:])
        return 1
    print(f"clean exit {rc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
