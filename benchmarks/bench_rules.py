"""Time and peak memory per update of e-prop and RFLO against BPTT, measured in the same run.

For N ∈ {64, 256}, T ∈ {100, 1000} (batch 32, one network, float32, one thread): milliseconds per
gradient estimate (median of ``--reps``, after a warm-up), the ratio to BPTT's, and the peak
memory of one estimate: the growth of the peak resident set (VmHWM, Linux) of a fresh subprocess
per rule and size over what it holds with model, batch and rule built (workspaces, chunk buffers
and traces included). Targets (issue 16): e-prop within 1.5× of BPTT's time, RFLO within 3×,
memory of both flat in T (BPTT's grows linearly: it keeps 3·(T+1)·B·N floats).

    python benchmarks/bench_rules.py            # the grid of the issue
    python benchmarks/bench_rules.py --quick    # N = 64 only, fewer repetitions
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse
from rnnrank.tasks import Batch

RULES = ("bptt", "eprop", "rflo")


def make(n: int, b: int, t: int):
    gen = torch.Generator().manual_seed(0)
    model = rr.RateRNN(4, n, 2, gain=1.5, seed=0, dt=0.1)
    batch = Batch(torch.randn(t, b, 4, generator=gen), torch.randn(t, b, 2, generator=gen),
                  torch.ones(t, b, 2))
    return model, batch


def estimate(rule, model, batch):
    return rule.gradients(model, batch, noise=None,
                          loss_fn=lambda y: masked_mse(y, batch.targets, batch.mask))


def time_rule(name: str, n: int, t: int, b: int, reps: int) -> float:
    model, batch = make(n, b, t)
    rule = rr.learning.make_rule(name)
    rule.init(model, torch.Generator().manual_seed(0))
    estimate(rule, model, batch)  # warm-up (workspaces, allocator)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        estimate(rule, model, batch)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e3


MEMORY_SCRIPT = r"""
import json, sys, torch
sys.path.insert(0, {here!r})
torch.set_num_threads(1)
from bench_rules import make, estimate
import rnnrank as rr
name, n, t, b = {name!r}, {n}, {t}, {b}
model, batch = make(n, b, t)
rule = rr.learning.make_rule(name)
rule.init(model, torch.Generator().manual_seed(0))
def peak_kb():  # VmHWM: this process's peak resident set (reset by exec, unlike ru_maxrss)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
before = peak_kb()
estimate(rule, model, batch)
print(json.dumps((peak_kb() - before) / 1024))
"""


def peak_memory_mb(name: str, n: int, t: int, b: int) -> float:
    from pathlib import Path

    script = MEMORY_SCRIPT.format(here=str(Path(__file__).parent), name=name, n=n, t=t, b=b)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, env={"OMP_NUM_THREADS": "1", **_env()})
    return float(out.stdout.strip().splitlines()[-1])


def _env() -> dict:
    import os

    return dict(os.environ)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sizes = [64] if args.quick else [64, 256]
    reps = args.reps or (2 if args.quick else 3)
    rows = []
    print(f"batch {args.batch}, float32, 1 thread; ms per gradient estimate (median of {reps}), "
          "peak memory of one estimate over the process holding model and batch (MB)")
    print(f"{'N':>4} {'T':>5} {'rule':>6} {'ms':>9} {'×BPTT':>7} {'MB':>8}")
    for n in sizes:
        for t in (100, 1000):
            base = None
            for name in RULES:
                ms = time_rule(name, n, t, args.batch, reps)
                base = ms if name == "bptt" else base
                mb = float("nan") if args.no_memory else peak_memory_mb(name, n, t, args.batch)
                rows.append({"N": n, "T": t, "rule": name, "ms": ms, "ratio": ms / base,
                             "peak_mb": mb})
                print(f"{n:>4} {t:>5} {name:>6} {ms:>9.1f} {ms / base:>7.2f} {mb:>8.1f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
