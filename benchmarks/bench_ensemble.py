"""Sweeps: E networks trained as one batched ensemble vs one after another, and a heterogeneous
sweep on the local process pool vs sequentially — both measured in the same run.

Part 1 (issue 17): 32 networks, N = 128, batch 32, T = 100 (flip-flop, dt = 0.2 over 20 time
units), BPTT + Adam through the trainer (``rr.train``, in memory). Prints ms per update of each
network, the speed-up (sequential / ensemble) and the ensemble's GFLOP/s against the machine's
fp32 matmul peak measured in the same run with the same threads. FLOPs counted per update:
forward W·r, backward Wᵀλ and the gradient Σ λ rᵀ, 3 · 2·E·B·N²·T (the N×I, O×N products and the
elementwise work are left out, so the fraction is a lower bound).

Part 2: 12 runs that share no ensemble (3 learning rates × 2 sizes × 2 tasks) through
``run_sweep`` on the local pool (one process per core) vs ``workers=1`` (in this process).

    python benchmarks/bench_ensemble.py [--threads 1] [--steps 5] [--skip-pool]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time

import torch

import rnnrank as rr
from rnnrank.sweep import run_sweep
from rnnrank.sweep.backends import available_cores


def matmul_peak(size: int = 2048, reps: int = 8) -> float:
    """Best fp32 GFLOP/s of a large square product: the attainable peak of these threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def time_training(model, task, steps: int, **kw) -> float:
    """Seconds per update (one warm-up update excluded; the final evaluation step included)."""
    rr.train(model, task, steps=1, record_every=1, lr=1e-3, batch_size=32, **kw)
    t0 = time.perf_counter()
    rr.train(model, task, steps=steps, record_every=steps, lr=1e-3, batch_size=32, **kw)
    return (time.perf_counter() - t0) / steps


def ensemble_vs_sequential(E: int, N: int, steps: int) -> dict:
    task = rr.tasks.make("flipflop", n_bits=3, duration=20.0, dt=0.2)  # T = 100
    T = task.sample(1).inputs.shape[0]
    ens = rr.RateRNN(task.n_in, N, task.n_out, gain=1.5, seed=list(range(E)))
    t_ens = time_training(ens, task, steps, independent_batches=True)
    t_seq = 0.0
    for e in range(E):
        single = rr.RateRNN(task.n_in, N, task.n_out, gain=1.5, seed=e)
        t_seq += time_training(single, task, steps, seed=e)
    flops = 3 * 2 * E * 32 * N * N * T
    return {"E": E, "N": N, "B": 32, "T": T, "ms_per_update_ensemble": 1e3 * t_ens,
            "ms_per_update_sequential": 1e3 * t_seq, "speedup": t_seq / t_ens,
            "gflops_ensemble": flops / t_ens / 1e9, "gflops_sequential": flops / t_seq / 1e9}


def pool_vs_sequential(steps: int) -> dict:
    spec = {"train": {"steps": steps, "record_every": steps, "batch_size": 32},
            "grid": {"lr": [1e-3, 2e-3, 3e-3], "n_rec": [64, 96],
                     "task": ["flipflop", "sine"]}}
    times = {}
    for name, workers in (("sequential", 1), ("pool", available_cores())):
        out = tempfile.mkdtemp(prefix=f"bench_sweep_{name}_")
        t0 = time.perf_counter()
        table = run_sweep(spec, out, workers=workers)
        times[name] = time.perf_counter() - t0
        assert (table["status"] == "completed").all(), table[["name", "status", "message"]]
        shutil.rmtree(out)
    return {"runs": 12, "workers": available_cores(), "seconds_sequential": times["sequential"],
            "seconds_pool": times["pool"], "speedup": times["sequential"] / times["pool"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--sweep-steps", type=int, default=100)
    parser.add_argument("--skip-pool", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    peak = matmul_peak()
    r = ensemble_vs_sequential(32, 128, args.steps)
    print(f"threads {args.threads}; fp32 matmul peak {peak:.1f} GFLOP/s")
    print(f"ensemble E={r['E']} N={r['N']} B={r['B']} T={r['T']}: "
          f"{r['ms_per_update_ensemble']:.1f} ms/update; one after another "
          f"{r['ms_per_update_sequential']:.1f} ms; speed-up {r['speedup']:.2f}x")
    print(f"ensemble {r['gflops_ensemble']:.1f} GFLOP/s = {r['gflops_ensemble'] / peak:.0%} of "
          f"peak; sequential {r['gflops_sequential']:.1f} GFLOP/s = "
          f"{r['gflops_sequential'] / peak:.0%}")
    if not args.skip_pool:
        p = pool_vs_sequential(args.sweep_steps)
        print(f"12-run heterogeneous sweep: sequential {p['seconds_sequential']:.1f} s, local "
              f"pool ({p['workers']} workers) {p['seconds_pool']:.1f} s; speed-up "
              f"{p['speedup']:.2f}x")


if __name__ == "__main__":
    main()
