"""The machine's matmul peak, measured in the run that reports a share of it.

``gemm_peak`` runs one single-threaded float32 1024² GEMM loop per core, in processes of their
own, and sums their rates: the all-core peak the sweep's throughput is compared with (sweeps run
one single-threaded worker per core). ``share_of_peak`` turns a count of floating-point work
and a wall time into that share.
"""

from __future__ import annotations

import multiprocessing as mp
import time

from .backends import available_cores


def _gemm_rate(seconds: float, q) -> None:
    import torch

    torch.set_num_threads(1)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    a @ b
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        a @ b
        n += 1
    q.put(2 * 1024**3 * n / (time.perf_counter() - t0) / 1e9)


def gemm_peak(seconds: float = 2.0, processes: int | None = None) -> float:
    """All-core float32 GEMM rate in GFLOP/s (one single-threaded process per core, summed)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    n = processes or available_cores()
    procs = [ctx.Process(target=_gemm_rate, args=(seconds, q)) for _ in range(n)]
    for p in procs:
        p.start()
    rates = [q.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def share_of_peak(flops: float, seconds: float, peak_gflops: float) -> float:
    """Achieved GFLOP/s (``flops`` over ``seconds``) as a fraction of ``peak_gflops``."""
    return flops / max(seconds, 1e-12) / 1e9 / peak_gflops
