"""What a user sees of a sweep's speed, quiet and with another CPU-bound process running.

A Schuessler-sized grid — flip-flop (2 bits, memory "last", duration 50, dt 0.5: T = 100 steps),
N = 256, batch 32, BPTT + Adam, 16 networks (4 gains × 4 seeds), ``--steps`` updates each
(default 200, a fifth of the paper's 1000) — runs through ``run_sweep`` (the code of
``rnnrank sweep``, local backend, its default layout of workers × threads). Printed per
condition:

- network-updates per second, and how much of the wall time the training loops took (the rest
  is fixed cost: starting and importing the workers, torch.optim's one-time import of
  torch._dynamo, building the runs, splitting ensembles into run directories, collecting);
- the share of the machine's all-core fp32 GEMM peak, measured quiet in the same run (one process
  per core, each multiplying 1024² matrices on one thread, summed — the layout the sweep uses);
  FLOPs per network-update counted as 3 · 2·B·N²·T (forward W·r, backward Wᵀλ and the gradient
  Σ λ rᵀ; input/readout products and elementwise work left out, so the share is a lower bound);
- the same work done the naive way — one network at a time, a Python loop over time steps with
  autograd (``x = (1−α)x + α(W tanh x + U u)``; ``loss.backward()``; Adam) — and the ratio.

"Loaded" starts one CPU-bound process (a Python busy loop, killed at the end) before measuring.
Run under each CPU code path:

    for c in default avx2 avx512; do ATEN_CPU_CAPABILITY=$c python benchmarks/bench_sweep.py; done

``--kernels`` instead times the hot loops' kernels under every code path (one subprocess each):
tanh against 2σ(2x) − 1, and the recurrent product written into the member-first buffers'
strided blocks against a contiguous time-first buffer, on 1 thread (the sweep's layout) and on
all cores — the measurements behind those two choices. ``--paper-grid`` trains the Schuessler
full flip-flop grid (5 seeds × 8 gains, N = 256, the reproduction's own sweep spec) for
``--paper-steps`` of its 1000 updates and extrapolates its wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import torch

import rnnrank as rr
from rnnrank.sweep import run_sweep
from rnnrank.sweep.backends import available_cores
from rnnrank.sweep.throughput import gemm_peak

N, B, DT, DURATION = 256, 32, 0.5, 50.0
GAINS, SEEDS = (0.0, 0.6, 1.2, 1.8), (0, 1, 2, 3)
TASK = {"n_bits": 2, "memory": "last", "duration": DURATION}  # Schuessler's variant


def flops_per_update(T: int) -> float:
    return 3 * 2 * B * N * N * T


def timed_sweep(spec: dict) -> dict:
    """Run ``spec`` through run_sweep in a fresh directory: wall seconds, the longest training
    loop (seconds in status.json), network-updates done, the layout."""
    out = tempfile.mkdtemp(prefix="bench_sweep_")
    try:
        t0 = time.perf_counter()
        table = run_sweep(spec, out)
        wall = time.perf_counter() - t0
        assert (table["status"] == "completed").all(), table[["status", "message"]]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    workers, threads = table.attrs["layout"]
    return {"wall_s": wall, "train_s": float(table["seconds"].max()),
            "updates": int(len(table) * spec["train"]["steps"]), "layout": f"{workers}×{threads}"}


def grid_spec(steps: int) -> dict:
    return {"name": "bench", "train": {"task": "flipflop", "task_options": TASK, "n_rec": N,
                                       "dt": DT, "batch_size": B, "steps": steps,
                                       "record_every": steps, "checkpoint_every": steps,
                                       "lr": 1e-3},
            "grid": {"gain": list(GAINS), "seed": list(SEEDS)}}


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
    sweep = timed_sweep(grid_spec(steps))
    rate = sweep["updates"] / sweep["wall_s"]
    naive = naive_rate(naive_steps)
    return {**sweep, "updates_per_s": rate, "peak_gflops": peak,
            "share_of_peak": rate * flops_per_update(T) / 1e9 / peak,
            "naive_updates_per_s": naive, "vs_naive": rate / naive}


KERNEL_E = 8  # members per worker of the 16-network grid on 2 cores


def _time(fn, seconds: float = 0.5) -> float:
    for _ in range(3):
        fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return (time.perf_counter() - t0) / n


def _time_first_workspace():
    """A BPTT workspace whose buffers are time-first in memory ([T+1, E, B, N] contiguous: each
    step's product writes a contiguous block, the gradient products then copy per member)."""
    from rnnrank.learning.rate_bptt import Workspace

    class TimeFirst(Workspace):
        def get(self, name, like, dtype, device):
            E, T1, B_, N_ = like
            return super().get(name, (T1, E, B_, N_), dtype, device).permute(1, 0, 2, 3)

    return TimeFirst()


def _update_ms(workspace) -> float:
    """ms of one rate_bptt update of the 8-member ensemble a worker trains, at this layout."""
    from rnnrank.learning.rate_bptt import rate_bptt

    task = rr.tasks.make("flipflop", dt=DT, **TASK)
    model = rr.RateRNN(task.n_in, N, task.n_out, dt=DT, gain=[0.6] * KERNEL_E,
                       seed=list(range(KERNEL_E)))
    batch = task.sample(B, generator=torch.Generator().manual_seed(0))
    return _time(lambda: rate_bptt(model, batch.inputs, lambda y: task.loss(y, batch),
                                   workspace=workspace), seconds=2.0) * 1e3


def kernels() -> dict:
    """µs per call of the hot loops' kernels at this process's code path (E = 8, B = 32,
    N = 256, T = 100): φ, one recurrent step's product by layout and thread count, and a whole
    BPTT update (ms) with the member-first buffers rnnrank uses against time-first ones."""
    from rnnrank.learning.rate_bptt import Workspace
    from rnnrank.nonlinearities import tanh_into

    E, T = KERNEL_E, int(DURATION / DT)
    x, out = torch.randn(E, B, N), torch.empty(E, B, N)
    row = {"tanh_us": _time(lambda: torch.tanh(x, out=out)) * 1e6,
           "tanh_into_us": _time(lambda: tanh_into(x, out)) * 1e6}
    Wt = torch.randn(E, N, N).transpose(1, 2).contiguous()
    member_first = torch.randn(E, T + 1, B, N).permute(1, 0, 2, 3)  # strided [E, B, N] blocks
    time_first = torch.randn(T + 1, E, B, N)  # contiguous [E, B, N] per step
    for threads in sorted({1, available_cores()}):
        torch.set_num_threads(threads)
        for name, buf in (("member_first", member_first), ("time_first", time_first)):
            row[f"step_{name}_{threads}t_us"] = _time(
                lambda buf=buf: buf[51].baddbmm_(buf[50], Wt, alpha=0.5)) * 1e6
        row[f"update_member_first_{threads}t_ms"] = _update_ms(Workspace())
        row[f"update_time_first_{threads}t_ms"] = _update_ms(_time_first_workspace())
    return row


def kernel_table() -> None:
    """``kernels()`` under every CPU code path, one subprocess each, as one table."""
    rows = {}
    for cap in ("default", "avx2", "avx512"):
        env = {**os.environ, "ATEN_CPU_CAPABILITY": cap}
        res = subprocess.run([sys.executable, __file__, "--kernels-here"], env=env,
                             capture_output=True, text=True, check=True)
        rows[cap] = json.loads(res.stdout.strip().splitlines()[-1])
    keys = list(next(iter(rows.values())))
    print(f"{'µs (ms: update) per call, E=8':<34}" + "".join(f"{c:>9}" for c in rows))
    for k in keys:
        print(f"{k:<34}" + "".join(f"{rows[c][k]:9.1f}" for c in rows))
    threads = sorted({1, available_cores()})
    for c, r in rows.items():
        def ratio(kind, t, unit, r=r):
            return r[f"{kind}_member_first_{t}t_{unit}"] / r[f"{kind}_time_first_{t}t_{unit}"]

        print(f"{c}: tanh / tanh_into = {r['tanh_us'] / r['tanh_into_us']:.2f}; member-first / "
              "time-first: " + ", ".join(
                  f"step {ratio('step', t, 'us'):.2f} update {ratio('update', t, 'ms'):.2f} on "
                  f"{t} thread{'s' * (t > 1)}" for t in threads))
    print(json.dumps(rows))


def paper_grid(steps: int, full_steps: int = 1000) -> None:
    """The Schuessler flip-flop grid through the sweep for ``steps`` updates, extrapolated."""
    from rnnrank.experiments.schuessler2020 import paper
    from rnnrank.experiments.schuessler2020.full import sweep_spec

    spec = sweep_spec("flipflop", paper())
    spec["train"].update(steps=steps)
    r = timed_sweep(spec)
    fixed = r["wall_s"] - r["train_s"]
    full = fixed + r["train_s"] * full_steps / steps
    n = r["updates"] // steps
    print(f"Schuessler flip-flop grid: {n} networks × {steps} updates in {r['wall_s']:.1f} s "
          f"({r['train_s']:.1f} s training, {fixed:.1f} s fixed; layout {r['layout']}); "
          f"{n} × {full_steps} updates extrapolate to {full:.0f} s = {full / 3600:.2f} h")
    print(json.dumps({"paper_grid": {**r, "extrapolated_s": full, "full_steps": full_steps}}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200, help="updates per network (sweep)")
    parser.add_argument("--naive-steps", type=int, default=4, help="updates per naive network")
    parser.add_argument("--kernels", action="store_true",
                        help="time the hot loops' kernels under every CPU code path instead")
    parser.add_argument("--kernels-here", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--paper-grid", action="store_true",
                        help="time the Schuessler flip-flop grid instead, and extrapolate")
    parser.add_argument("--paper-steps", type=int, default=50,
                        help="updates of the paper grid measured (of 1000)")
    args = parser.parse_args()
    if args.kernels_here:
        torch.set_num_threads(1)
        print(json.dumps(kernels()))
        return
    if args.kernels:
        kernel_table()
        return
    if args.paper_grid:
        paper_grid(args.paper_steps)
        return
    cap = os.environ.get("ATEN_CPU_CAPABILITY", "(unset)")
    print(f"ATEN_CPU_CAPABILITY={cap}, {available_cores()} cores, torch {torch.__version__}; "
          f"{len(GAINS) * len(SEEDS)} networks N={N} B={B} T={int(DURATION / DT)}, "
          f"{args.steps} updates each")
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
    print(f"{'condition':<8} {'layout':<7} {'wall s':>7} {'train s':>7} {'upd/s':>7} "
          f"{'peak GF/s':>9} {'share':>6} {'naive upd/s':>11} {'× naive':>7}")
    for name, r in rows.items():
        print(f"{name:<8} {r['layout']:<7} {r['wall_s']:7.1f} {r['train_s']:7.1f} "
              f"{r['updates_per_s']:7.1f} {r['peak_gflops']:9.1f} {r['share_of_peak']:6.1%} "
              f"{r['naive_updates_per_s']:11.2f} {r['vs_naive']:7.2f}")
    print(json.dumps({"capability": cap, **rows}))


if __name__ == "__main__":
    main()
