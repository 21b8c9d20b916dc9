"""Time per BPTT update of rnnrank's trainer step vs a naive per-step autograd loop.

Both do the same work on the same model and batches: forward over T steps, exact gradient of the
masked MSE with respect to W, U, V, b, one Adam update. Prints, per size: milliseconds per update,
the speed-up (naive / rnnrank), GFLOP/s of each against the machine's fp32 matrix-multiply peak
measured in the same run, and with --memory the peak memory of one update: resident-set growth
over the process holding model, batch and optimiser, sampled every 0.5 ms in a fresh subprocess
(rnnrank's reusable workspace, 4·(T+1)·B·N floats, is included). Gradients of both are
checked to agree before timing.

    python benchmarks/bench_bptt.py            # the full grid of issue 10
    python benchmarks/bench_bptt.py --quick    # a few sizes
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time

import numpy as np
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse
from rnnrank.learning.bptt import BPTT
from rnnrank.tasks import Batch


def naive_update(model, batch, opt):
    """The textbook loop: one autograd node chain per time step, readout per step."""
    W, U, V, b = model.W, model.U, model.V, model.b
    a = model.alpha
    x = torch.zeros(batch.batch_size, W.shape[0], device=W.device)
    ys = []
    for t in range(batch.n_steps):
        x = (1 - a) * x + a * (torch.tanh(x) @ W.T + batch.inputs[t] @ U.T + b)
        ys.append(torch.tanh(x) @ V.T)
    y = torch.stack(ys)
    loss = ((y - batch.targets) ** 2 * batch.mask).sum() / batch.mask.sum()
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return loss


def rnnrank_update(model, batch, opt, rule):
    res = rule.gradients(model, batch, noise=None,
                         loss_fn=lambda y: masked_mse(y, batch.targets, batch.mask))
    for name, p in model.named_parameters():
        if name in res.grads:
            p.grad = res.grads[name]
    opt.step()
    opt.zero_grad(set_to_none=True)
    return res.loss


def make(n, b, t, seed=0, device="cpu"):
    gen = torch.Generator().manual_seed(seed)
    model = rr.RateRNN(4, n, 2, gain=1.5, seed=seed, device=device)
    batch = Batch(torch.randn(t, b, 4, generator=gen), torch.randn(t, b, 2, generator=gen),
                  (torch.rand(t, b, 2, generator=gen) < 0.5).float())
    return model, batch.to(device)


def check_same_gradients(n=64, b=8, t=50):
    model, batch = make(n, b, t)
    res = BPTT().gradients(model, batch, noise=None,
                           loss_fn=lambda y: masked_mse(y, batch.targets, batch.mask))
    naive_update(model, batch, torch.optim.SGD(model.parameters(), lr=0.0))
    # SGD(lr=0) keeps the grads? no: zero_grad clears them; recompute without stepping
    W, U, V, bias = (p.detach().clone().requires_grad_() for p in
                     (model.W, model.U, model.V, model.b))
    a, x, ys = model.alpha, torch.zeros(b, n), []
    for s in range(t):
        x = (1 - a) * x + a * (torch.tanh(x) @ W.T + batch.inputs[s] @ U.T + bias)
        ys.append(torch.tanh(x) @ V.T)
    loss = ((torch.stack(ys) - batch.targets) ** 2 * batch.mask).sum() / batch.mask.sum()
    loss.backward()
    for name, ref in zip("WUVb", (W, U, V, bias), strict=True):
        err = (res.grads[name] - ref.grad).norm() / ref.grad.norm()
        assert err < 1e-4, (name, float(err))  # float32 round-off


def _sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timeit(fn, reps, min_time=1.0):
    fn()  # warm-up
    _sync()
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < reps or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t0)
        if len(times) >= 50:
            break
    times.sort()
    return times[len(times) // 2]


def timeit_pair(first, second, reps, min_time=2.0):
    """Alternate two functions; return arrays of their times (seconds), paired by rep."""
    first(), second()  # warm-up
    a, b = [], []
    t_end = time.perf_counter() + min_time
    while len(a) < reps or (time.perf_counter() < t_end and len(a) < 50):
        for fn, out in ((first, a), (second, b)):
            _sync()
            t0 = time.perf_counter()
            fn()
            _sync()
            out.append(time.perf_counter() - t0)
    return np.array(a), np.array(b)


def matmul_peak(size=2048, reps=10, device="cpu"):
    """Best (not median) fp32 GFLOP/s of a large square product: the machine's attainable peak."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b
    times = []
    for _ in range(reps):
        _sync()
        t0 = time.perf_counter()
        a @ b
        _sync()
        times.append(time.perf_counter() - t0)
    return 2 * size**3 / min(times) / 1e9


def flops(n, b, t):
    # dominant terms: forward r·Wᵀ, backward λ·W, gradient Λᵀ·R — 2·B·N² each per step
    return 6 * b * n * n * t


MEM_SCRIPT = """
import os, sys, threading, time, torch
sys.path.insert(0, {bench_dir!r})
from bench_bptt import make, naive_update, rnnrank_update
from rnnrank.learning.bptt import BPTT
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
model, batch = make({n}, {b}, {t})
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
rule = BPTT()
update = (lambda: naive_update(model, batch, opt)) if {method!r} == "naive" else \\
    (lambda: rnnrank_update(model, batch, opt, rule))
peak, done = [0], [False]
def sample():
    while not done[0]:
        peak[0] = max(peak[0], rss())
        time.sleep(0.0005)
base = rss()
thread = threading.Thread(target=sample); thread.start()
update()  # the first update: rnnrank's workspace and the naive graph both count
done[0] = True; thread.join()
print((peak[0] - base) / 2**20)
"""


def peak_memory_mb(method, n, b, t):
    from pathlib import Path

    code = MEM_SCRIPT.format(bench_dir=str(Path(__file__).parent), n=n, b=b, t=t, method=method)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few sizes only")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory")
    parser.add_argument("--json", type=str, default=None, help="write results to this file")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    torch.manual_seed(0)
    check_same_gradients()
    peak = matmul_peak(device=args.device)
    print(f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads; "
          f"fp32 matmul peak (2048²): {peak:.1f} GFLOP/s")
    if args.device != "cpu" and args.memory:
        parser.error("--memory measures CPU resident memory; use it with --device cpu")
    sizes = [(64, 32, 250), (256, 64, 250), (512, 64, 100)] if args.quick else \
        list(itertools.product([64, 256, 512], [32, 64], [100, 250, 1000]))
    header = (f"{'N':>4} {'B':>3} {'T':>5} | {'naive ms':>9} {'rnnrank ms':>10} {'speed-up':>8} |"
              f" {'naive %peak':>11} {'rnnrank %peak':>13}")
    if args.memory:
        header += f" | {'naive MB':>8} {'rnnrank MB':>10}"
    print(header)
    results = []
    for n, b, t in sizes:
        model, batch = make(n, b, t, device=args.device)
        rule = BPTT()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        reps = 3 if n * b * t > 5e6 else 10
        # Interleave the two methods so that drifting load on a shared machine hits both alike;
        # the speed-up is the median of per-pair ratios.
        t_ours, t_naive = timeit_pair(lambda: rnnrank_update(model, batch, opt, rule),  # noqa: B023
                                      lambda: naive_update(model, batch, opt), reps)  # noqa: B023
        f = flops(n, b, t) / 1e9
        row = dict(N=n, B=b, T=t, naive_ms=1e3 * float(np.median(t_naive)),
                   rnnrank_ms=1e3 * float(np.median(t_ours)),
                   speedup=float(np.median(t_naive / t_ours)))
        row["naive_pct_peak"] = 100 * f / (row["naive_ms"] / 1e3) / peak
        row["rnnrank_pct_peak"] = 100 * f / (row["rnnrank_ms"] / 1e3) / peak
        line = (f"{n:>4} {b:>3} {t:>5} | {row['naive_ms']:>9.1f} {row['rnnrank_ms']:>10.1f} "
                f"{row['speedup']:>7.2f}x | {row['naive_pct_peak']:>10.1f}% "
                f"{row['rnnrank_pct_peak']:>12.1f}%")
        if args.memory:
            row["naive_MB"] = peak_memory_mb("naive", n, b, t)
            row["rnnrank_MB"] = peak_memory_mb("rnnrank", n, b, t)
            line += f" | {row['naive_MB']:>8.0f} {row['rnnrank_MB']:>10.0f}"
        print(line, flush=True)
        results.append(row)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"peak_gflops": peak, "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
