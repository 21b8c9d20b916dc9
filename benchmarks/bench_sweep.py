"""What a user sees of a sweep's speed, quiet and with another CPU-bound process running.

A Schuessler-sized grid — flip-flop (2 bits, duration 50, dt 0.5: T = 100 steps), N = 256, batch
32, BPTT + Adam, 16 networks (4 gains × 4 seeds) — runs through ``run_sweep`` (the code of
``rnnrank sweep``, local backend, its default layout of workers × threads). Printed per condition:

- network-updates per second;
- the share of the machine's all-core fp32 GEMM peak, measured quiet in the same run (one process
  per core, each multiplying 1024² matrices on one thread, summed — the layout the sweep uses);
  FLOPs per network-update counted as 3 · 2·B·N²·T (forward W·r, backward Wᵀλ and the gradient
  Σ λ rᵀ; input/readout products and elementwise work left out, so the share is a lower bound);
- the same work done the naive way — one network at a time, a Python loop over time steps with
  autograd (``x = (1−α)x + α(W tanh x + U u)``; ``loss.backward()``; Adam) — and the ratio.

"Loaded" starts one CPU-bound process (a Python busy loop, killed at the end) before measuring.
Run under each CPU code path:

    for c in default avx2 avx512; do ATEN_CPU_CAPABILITY=$c python benchmarks/bench_sweep.py; done
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch

import rnnrank as rr
from rnnrank.sweep import run_sweep
from rnnrank.sweep.backends import available_cores, local_layout

N, B, DT, DURATION = 256, 32, 0.5, 50.0
GAINS, SEEDS = (0.0, 0.6, 1.2, 1.8), (0, 1, 2, 3)
TASK = {"n_bits": 2, "duration": DURATION}


def _gemm_rate(seconds: float, q) -> None:
    torch.set_num_threads(1)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    q.put(2 * 1024**3 * n / (time.perf_counter() - t0) / 1e9)


def gemm_peak(seconds: float = 2.0) -> float:
    """All-core fp32 GFLOP/s: one single-threaded process per core, summed."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_gemm_rate, args=(seconds, q)) for _ in range(available_cores())]
    for p in procs:
        p.start()
    rates = [q.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def flops_per_update(T: int) -> float:
    return 3 * 2 * B * N * N * T


def sweep_rate(steps: int) -> tuple[float, str]:
    """(network-updates per second, layout) of the grid through run_sweep."""
    spec = {"name": "bench", "train": {"task": "flipflop", "task_options": TASK, "n_rec": N,
                                       "dt": DT, "batch_size": B, "steps": steps,
                                       "record_every": steps, "checkpoint_every": steps,
                                       "lr": 1e-3},
            "grid": {"gain": list(GAINS), "seed": list(SEEDS)}}
    out = tempfile.mkdtemp(prefix="bench_sweep_")
    try:
        t0 = time.perf_counter()
        table = run_sweep(spec, out)
        seconds = time.perf_counter() - t0
        assert (table["status"] == "completed").all(), table[["status", "message"]]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    workers, threads = local_layout(len(GAINS) * len(SEEDS))
    return len(GAINS) * len(SEEDS) * steps / seconds, f"{workers}×{threads}"


def naive_rate(steps: int) -> float:
    """Network-updates per second of one network at a time, autograd through a step loop."""
    torch.set_num_threads(available_cores())
    task = rr.tasks.make("flipflop", dt=DT, **TASK)
    gen = torch.Generator().manual_seed(0)
    alpha = DT
    n_nets = 4  # of the 16, timed and extrapolated (they cost the same)
    t0 = time.perf_counter()
    for net in range(n_nets):
        W = (GAINS[net] * torch.randn(N, N, generator=gen) / N**0.5).requires_grad_()
        U = torch.randn(N, task.n_in, generator=gen).requires_grad_()
        V = (torch.randn(task.n_out, N, generator=gen) / N).requires_grad_()
        opt = torch.optim.Adam([W, U, V], lr=1e-3)
        for _ in range(steps):
            batch = task.sample(B, generator=gen)
            x = torch.zeros(B, N)
            loss = 0.0
            for t in range(batch.n_steps):
                x = (1 - alpha) * x + alpha * (torch.tanh(x) @ W.T + batch.inputs[t] @ U.T)
                loss = loss + ((torch.tanh(x) @ V.T - batch.targets[t]) ** 2
                               * batch.mask[t]).sum()
            loss = loss / batch.mask.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return n_nets * steps / (time.perf_counter() - t0)


def measure(steps: int, naive_steps: int, peak: float) -> dict:
    T = int(round(DURATION / DT))
    rate, layout = sweep_rate(steps)
    naive = naive_rate(naive_steps)
    return {"layout": layout, "updates_per_s": rate, "peak_gflops": peak,
            "share_of_peak": rate * flops_per_update(T) / 1e9 / peak,
            "naive_updates_per_s": naive, "vs_naive": rate / naive}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="updates per network (sweep)")
    parser.add_argument("--naive-steps", type=int, default=4, help="updates per naive network")
    args = parser.parse_args()
    cap = os.environ.get("ATEN_CPU_CAPABILITY", "(unset)")
    print(f"ATEN_CPU_CAPABILITY={cap}, {available_cores()} cores, torch {torch.__version__}; "
          f"{len(GAINS) * len(SEEDS)} networks N={N} B={B} T={int(DURATION / DT)}")
    peak = gemm_peak()  # quiet: the share is of the whole machine, loaded or not
    rows = {"quiet": measure(args.steps, args.naive_steps, peak)}
    hog = subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\n"
                            "while time.time()-t<3600: pass"])
    try:
        time.sleep(0.5)
        rows["loaded"] = measure(args.steps, args.naive_steps, peak)
    finally:
        hog.kill()
        hog.wait()
    print(f"{'condition':<8} {'layout':<7} {'upd/s':>7} {'peak GF/s':>9} {'share':>6} "
          f"{'naive upd/s':>11} {'× naive':>7}")
    for name, r in rows.items():
        print(f"{name:<8} {r['layout']:<7} {r['updates_per_s']:7.1f} {r['peak_gflops']:9.1f} "
              f"{r['share_of_peak']:6.1%} {r['naive_updates_per_s']:11.2f} {r['vs_naive']:7.2f}")
    print(json.dumps({"capability": cap, **rows}))


if __name__ == "__main__":
    main()
