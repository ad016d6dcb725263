#!/usr/bin/env python3
"""The char-LM example (examples/python/char_lm.py) as tests:
 1. a short run of the compiled LSTM whose loss must fall below 2.5 nats in 120 steps;
 2. DistributedDataParallel with 2 processes (gloo, torch.distributed.run): the params are
    identical on both ranks after 20 steps, and the loss curve equals the curve of one process
    trained on the combined batch within 1e-3 (relative; the two differ only in the order of
    float32 sums: the gradient average of DDP against one batch's sum).

usage: test_char_lm.py CELLC WORK_DIR
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "python", "char_lm.py")


def run(args, env, what):
    out = subprocess.run(args, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"FAIL {what}: exit {out.returncode}\n{out.stdout}\n{out.stderr}")
        sys.exit(1)
    return out.stdout


def main():
    cellc, work = sys.argv[1:3]
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ, CELLC=os.path.abspath(cellc), CELLC_CACHE=os.path.join(work, "cache"))
    failures = 0

    text = run([sys.executable, EXAMPLE, "--steps", "120", "--hidden", "128", "--every", "40"],
               env, "short training run")
    print(text.strip())
    failures += "loss below 2.5 after 120 steps" not in text

    common = ["--steps", "20", "--hidden", "64", "--seq", "32", "--every", "10", "--threads", "1"]
    single = os.path.join(work, "single.json")
    run([sys.executable, EXAMPLE, "--batch", "16", "--summary", single] + common, env,
        "one process")
    ddp = os.path.join(work, "ddp.json")
    # --redirects 1 --tee 1: Debian's torch 1.13 on Python 3.11 cannot parse the default "0"
    # (IntFlag iteration skips Std.NONE), so the workers' stdout is teed instead.
    text = run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node", "2", "--redirects", "1", "--tee", "1", EXAMPLE, "--ddp", "--batch", "8", "--summary", ddp] +
               common, env, "DDP with 2 processes")
    a, b = json.load(open(single)), json.load(open(ddp))
    worst = max(abs(x - y) / abs(x) for x, y in zip(a["losses"], b["losses"]))
    ok_params = b["params_identical"]
    ok_curve = len(a["losses"]) == len(b["losses"]) == 20 and worst <= 1e-3
    print(f"{'PASS' if ok_params else 'FAIL'} DDP: params identical on 2 ranks after 20 steps")
    print(f"{'PASS' if ok_curve else 'FAIL'} DDP loss curve vs one process on the combined batch:"
          f" max relative difference {worst:.1e} over 20 steps (loss {a['losses'][0]:.3f} -> "
          f"{a['losses'][-1]:.3f})")
    failures += (not ok_params) + (not ok_curve)
    print(f"char-LM: {'all passed' if failures == 0 else str(failures) + ' failed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
