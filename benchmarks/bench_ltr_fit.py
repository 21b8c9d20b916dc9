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

``--cv`` (issue 21): cross-validation over ranks 1–5 (3 block splits, one-SE rule) on a planted
rank-3 teacher of size T=30, K=60, n=40, N=60 — Gaussian noise of 0.1 × the signal's SD (noise
floor nMSE ≈ 0.01), must pick 3 with held-out nMSE < 0.02 there; and on Poisson counts of the
same kind of teacher (λ = softplus(η/sd(η) + 1), fitted with ``loss="poisson"`` and a free
readout, which holds the gain 1/sd(η)), must pick 3 too. Baseline in the same run: seconds per
iteration of the dense J(k) formulation at that size; the ratio CV seconds / dense seconds per
iteration is the CV's cost in dense-iteration units, comparable across loads.

    python benchmarks/bench_ltr_fit.py                 # reference example size (issue 14)
    python benchmarks/bench_ltr_fit.py --quick         # per-iteration timings only
    python benchmarks/bench_ltr_fit.py --cv            # issue 21: CV picks the planted rank
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from rnnrank.fitting import FitOptions, block_masks, cross_validate, fit_ltr, ltr_teacher
from rnnrank.fitting import gp as gp_
from rnnrank.fitting import ltr_model as lm
from rnnrank.fitting.recording import Recording


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


CV_SIZE = dict(T=30, K=60, n=40, N=60)
CV_OPTIONS = FitOptions(lr=0.1, max_iter=600)


def cv_recordings(seed: int = 0) -> tuple[Recording, Recording]:
    """(Gaussian, Poisson) recordings of the planted rank-3 teacher (module docstring)."""
    T, K, n, N = CV_SIZE.values()
    clean, _ = ltr_teacher(T=T, K=K, n=n, N=N, rank=3, noise=0.0, seed=seed)
    sd = float(clean.data.std())
    gauss, _ = ltr_teacher(T=T, K=K, n=n, N=N, rank=3, noise=0.1 * sd, seed=seed,
                           dtype=torch.float32)
    g = torch.Generator().manual_seed(seed + 100)
    lam = torch.nn.functional.softplus(clean.data / sd + 1.0)
    counts = torch.poisson(lam, generator=g).to(torch.int64)
    return gauss, Recording(data=counts, condition=clean.condition)


def cv_bench(threads: int) -> dict:
    """Dense baseline per iteration, then CV over ranks 1–5 on both recordings."""
    gauss, counts = cv_recordings()
    T, K, n, N = CV_SIZE.values()
    cfg = lm.ModelConfig(rank=3, n_rec=N)
    p = lm.init_params(cfg, n_trials=K, n_out=n, n_cond=gauss.n_conditions,
                       n_steps_in=lm.n_input_steps(cfg, gauss.times), seed=0)
    L = gp_.cholesky_factor(gauss.trial_id, gp_.GPConfig())
    dense, _ = per_iteration(make_step("dense", p, cfg, L, gauss.data, gauss.condition), 20)
    fast, _ = per_iteration(make_step("fast", p, cfg, L, gauss.data, gauss.condition), 20)
    out = {"size": CV_SIZE, "threads": threads, "options": {"lr": CV_OPTIONS.lr,
                                                            "max_iter": CV_OPTIONS.max_iter},
           "baseline_dense_s_per_iteration": round(dense, 4),
           "fast_s_per_iteration": round(fast, 4)}
    for name, rec, kw in (("mse", gauss, {}), ("poisson", counts, {"loss": "poisson",
                                                                   "readout": "free"})):
        t0, c0 = time.perf_counter(), time.process_time()
        cv = cross_validate(rec, range(1, 6), n_rec=N, options=CV_OPTIONS, baselines=False,
                            **kw)
        wall = time.perf_counter() - t0
        out[name] = {"seconds": round(wall, 1), "cpu_seconds": round(time.process_time() - c0, 1),
                     "ratio_to_dense_iteration": round(wall / dense, 0),
                     "best_rank": cv.best_rank,
                     "held_out_mean_se": {k: [round(x, 4) for x in v["error"]]
                                          for k, v in cv.summary().items()},
                     "picks_planted_rank": cv.best_rank == 3}
        if name == "mse":
            out[name]["nmse_at_3_below_0.02"] = cv.scores[3] < 0.02
        print(json.dumps({name: out[name]}), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cv", action="store_true", help="issue 21: CV over ranks 1–5 only")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--fits-only", action="store_true", help="skip the per-iteration timings")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.cv:
        print(json.dumps(cv_bench(args.threads), indent=1))
        return
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
