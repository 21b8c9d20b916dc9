"""Where the jobs of a sweep run: in this process, a local process pool, Slurm or Ray.

rnnrank schedules nothing across machines itself: ``slurm`` submits one job array through
submitit (``AutoExecutor``: the same code runs as local processes where there is no Slurm), ``ray``
sends one Ray task per job to a cluster (``ray.init(address=...)``); the sweep directory must be
on a filesystem every worker sees. Every backend calls ``jobs.run_job`` and hands each job's
results to ``on_result`` as they come, so progress and failures are reported the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .jobs import record_failure, run_job

BACKENDS = ("local", "slurm", "ray")
OnResult = Callable[[list[dict]], None]


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def execute(jobs: list[dict], backend: str, out: Path, *, on_result: OnResult,
            workers: int | None = None, **options) -> list[dict]:
    """Run ``jobs``; returns every run's ``{"name", "status", "message"}``."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not jobs:
        return []
    if backend == "local":
        if options:
            raise ValueError(f"the local backend takes no options, got {sorted(options)}")
        return run_local(jobs, workers=workers, on_result=on_result)
    if backend == "slurm":
        from .submitit_backend import run_submitit

        return run_submitit(jobs, out, on_result=on_result, **options)
    return run_ray(jobs, on_result=on_result, **options)


def run_local(jobs: list[dict], *, workers: int | None, on_result: OnResult) -> list[dict]:
    """A process pool sized to the cores (``workers=1``: in this process, one job after another).

    Each worker gets ``cores // workers`` torch threads. A worker that dies (killed, out of
    memory) fails only its own job's runs. Workers are spawned (fresh interpreters: each
    imports torch, a few seconds); from a script read on stdin, which they cannot re-import,
    the jobs run in this process. Ctrl-C stops the workers too (``_stop_workers``) and
    re-raises: their runs resume from their last checkpoints.
    """
    workers, threads = local_layout(len(jobs), workers)
    results: list[dict] = []
    if workers <= 1:
        for job in jobs:
            res = run_job(job)
            results.extend(res)
            on_result(res)
        return results
    import multiprocessing as mp

    ours = {c.pid for c in mp.active_children()}  # children this pool did not start
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"),
                             initializer=_set_threads, initargs=(threads,)) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        try:
            for fut in as_completed(futures):
                exc = fut.exception()
                res = (fut.result() if exc is None else record_failure(
                    futures[fut], f"worker died: {type(exc).__name__}: {exc}"))
                results.extend(res)
                on_result(res)
        except KeyboardInterrupt:
            _stop_workers([c for c in mp.active_children() if c.pid not in ours])
            raise
    return results


def _stop_workers(workers, grace: float = 1.0) -> None:
    """End a Ctrl-C'd pool's workers now instead of at the end of their jobs.

    A terminal's Ctrl-C reaches the workers too, and each trainer records its run as
    interrupted; but a worker then takes its next queued job, and the pool's shutdown would wait
    for every job already handed out. So: ``grace`` seconds for those records, then SIGTERM.
    A run cut off there reads as killed and resumes from its last checkpoint, like after kill -9.
    """
    import time

    deadline = time.monotonic() + grace
    try:
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
    finally:  # a second Ctrl-C during the grace ends them at once
        for worker in workers:
            if worker.is_alive():
                worker.terminate()


def local_layout(n_jobs: int, workers: int | None = None) -> tuple[int, int]:
    """(worker processes, torch threads each) of the local backend for ``n_jobs`` jobs.

    One single-threaded worker per core by default: on a machine where other work holds a core,
    a multi-threaded parallel region waits ~8 ms for its descheduled thread at every operation,
    while one thread per process keeps its speed (measured: benchmarks/bench_sweep.py). Fewer
    jobs than cores give each worker the spare cores as threads.
    """
    cores = available_cores()
    n = max(1, min(n_jobs, cores if workers is None else workers))
    if not _spawnable():  # `python - < script` or `python -c`: spawned workers cannot start
        n = 1
    if n > 1:
        return n, max(1, cores // n)
    import torch

    return 1, torch.get_num_threads()  # in this process, with its own setting


def _spawnable() -> bool:
    """Spawned workers re-import ``__main__`` from its file: it must exist (or be absent,
    as in a notebook)."""
    import sys

    path = getattr(sys.modules.get("__main__"), "__file__", None)
    return path is None or os.path.isfile(path)


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_ray(jobs: list[dict], *, on_result: OnResult, address: str | None = None,
            cpus_per_job: float = 1.0) -> list[dict]:
    """One Ray task per job on the cluster at ``address`` (``"auto"``; None starts a local one)."""
    try:
        import ray
    except ImportError as exc:
        raise ValueError("the ray backend needs Ray: pip install 'rnnrank[ray]'") from exc
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    remote = ray.remote(num_cpus=cpus_per_job)(run_job)
    pending = {remote.remote(job): job for job in jobs}
    results: list[dict] = []
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        job = pending.pop(done[0])
        try:
            res = ray.get(done[0])
        except ray.exceptions.RayError as exc:
            res = record_failure(job, f"ray task failed: {type(exc).__name__}: {exc}")
        results.extend(res)
        on_result(res)
    return results
