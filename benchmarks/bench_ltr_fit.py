"""Seconds per iteration of the low-tensor-rank RNN fit vs a dense K×N×N recurrence, same run.

All three variants do the same work on the same recording and parameters — forward over all K
trials, masked MSE, gradient of every parameter, one Adam update:

    dense      J(k) = Σ_r c_r(k) a_r b_rᵀ built as a [K, N, N] tensor each iteration, the step
               x ← (1−α)x + α(J(k) tanh x + a v) by batched matrix-vector products, autograd
               (the reference ltrRNN's formulation, with a fixed-step Euler scan)
    reference  rnnrank's factorised step (``rate_dynamics.step`` with ``Factorised``), autograd
    fast       rnnrank's latent unroll with its hand-derived backward pass (the default)

The losses of the three are checked to agree before timing. Then, unless --quick: a full
``fit_ltr`` at the same size (early stopping as by default) and a rank-3 fit of a small recording
(T=30, K=60, n=40, N=60) with its held-out normalised MSE on blocks.

    python benchmarks/bench_ltr_fit.py                 # reference example size (issue 14)
    python benchmarks/bench_ltr_fit.py --quick         # per-iteration timings only
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from rnnrank.fitting import FitOptions, block_masks, fit_ltr, ltr_teacher
from rnnrank.fitting import gp as gp_
from rnnrank.fitting import ltr_model as lm


def dense_eta(p, cfg, c, cond, T):
    a = lm.unit_columns(p["A"])
    b = lm.unit_columns(p["B"])
    J = torch.einsum("nr,kr,mr->knm", a, c, b)  # [K, N, N]
    x = p["s0"][cond] @ a.T
    v = p["v"][:, cond] @ a.T
    out = []
    for j in range(cfg.n_prep + T):
        if j >= cfg.n_prep:
            out.append(x)
        rec = torch.bmm(J, torch.tanh(x)[:, :, None])[:, :, 0]
        drive = v[j] if j < v.shape[0] else 0.0
        x = (1 - cfg.alpha) * x + cfg.alpha * (rec + drive)
    states = torch.stack(out)
    return torch.tanh(states) @ lm.semi_orthogonal(p["D_raw"]).T + p["d"]


def make_step(variant, p, cfg, L, y, cond):
    params = {k: v.clone().requires_grad_() for k, v in p.items()}
    opt = torch.optim.Adam(list(params.values()), lr=1e-3)
    T = y.shape[0]

    def step():
        opt.zero_grad()
        c, _, _ = lm.factors(params, L)
        if variant == "dense":
            eta = dense_eta(params, cfg, c, cond, T)
        else:
            eta, _, _ = lm.predict_eta(params, cfg, c, cond, T, fast=variant == "fast")
        loss = (eta - y).pow(2).mean()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def per_iteration(step, repeats):
    """(wall, CPU) seconds per iteration; CPU time (this process, all threads) is the robust
    measure on a machine shared with other jobs, wall time the one a user waits."""
    step()  # warm-up
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - w0) / repeats, (time.process_time() - c0) / repeats


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fits-only", action="store_true", help="skip the per-iteration timings")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    T, K, n, N, R = 41, 250, 200, 200, 5
    rec, _ = ltr_teacher(T=T, K=K, n=n, N=N, rank=R, noise=0.05, seed=0, dtype=torch.float32)
    cfg = lm.ModelConfig(rank=R, n_rec=N)
    p = lm.init_params(cfg, n_trials=K, n_out=n, n_cond=rec.n_conditions,
                       n_steps_in=lm.n_input_steps(cfg, rec.times), seed=0)
    L = gp_.cholesky_factor(rec.trial_id, gp_.GPConfig())
    y, cond = rec.data, rec.condition
    result = {"size": dict(T=T, K=K, n=n, N=N, R=R), "threads": args.threads}
    if not args.fits_only:
        losses = {v: make_step(v, p, cfg, L, y, cond)() for v in ("dense", "reference", "fast")}
        spread = max(losses.values()) - min(losses.values())
        assert spread < 1e-4 * max(losses.values()), losses  # same model, float32 round-off
        times = {v: per_iteration(make_step(v, p, cfg, L, y, cond), args.repeats if v != "dense"
                                  else max(2, args.repeats // 2))
                 for v in ("dense", "reference", "fast")}
        result |= {"wall_s_per_iteration": {k: round(v[0], 4) for k, v in times.items()},
                   "cpu_s_per_iteration": {k: round(v[1], 4) for k, v in times.items()},
                   "speedup_fast_vs_dense_wall": round(times["dense"][0] / times["fast"][0], 1),
                   "speedup_fast_vs_dense_cpu": round(times["dense"][1] / times["fast"][1], 1),
                   "speedup_reference_vs_dense_cpu":
                       round(times["dense"][1] / times["reference"][1], 1)}
        print(json.dumps(result, indent=2))
    if args.quick:
        return
    t0, c0 = time.perf_counter(), time.process_time()
    fit = fit_ltr(rec, R, n_rec=N, seed=0)
    result["full_fit"] = {"seconds": round(time.perf_counter() - t0, 1),
                          "cpu_seconds": round(time.process_time() - c0, 1),
                          "iterations": fit.iterations, "train_nmse": round(fit.train_error, 4)}
    print(json.dumps(result["full_fit"]))
    small, _ = ltr_teacher(T=30, K=60, n=40, N=60, rank=3, noise=0.05, seed=0,
                           dtype=torch.float32)
    train, test = block_masks(small.shape, fraction=0.2, seed=0)
    t0, c0 = time.perf_counter(), time.process_time()
    fit = fit_ltr(small, 3, n_rec=60, seed=0, train_mask=train, options=FitOptions())
    result["small_rank3"] = {"seconds": round(time.perf_counter() - t0, 1),
                             "cpu_seconds": round(time.process_time() - c0, 1),
                             "iterations": fit.iterations,
                             "test_nmse": round(fit.error(test), 4),
                             "noise_floor_nmse": round(0.05**2 / float(small.data.var()), 4)}
    print(json.dumps(result["small_rank3"]))


if __name__ == "__main__":
    main()
