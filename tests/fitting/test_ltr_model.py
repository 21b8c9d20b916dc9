"""The fitted network's dynamics against dense references built here, and the fast adjoint."""

from __future__ import annotations

import pytest
import torch

from rnnrank.fitting import gp
from rnnrank.fitting import ltr_model as lm
from rnnrank.fitting.ltr_adjoint import latent_unroll


def _params(inputs="span", seed=0, K=7, N=12, R=3, C=2, S=4):
    cfg = lm.ModelConfig(rank=R, n_rec=N, n_prep=3, alpha=0.3, inputs=inputs)
    p = lm.init_params(cfg, n_trials=K, n_out=5, n_cond=C, n_steps_in=S, seed=seed,
                       dtype=torch.float64)
    g = torch.Generator().manual_seed(seed + 100)
    for k in ("B", "Z", "v", "s0", "d"):
        p[k] = torch.randn(p[k].shape, generator=g, dtype=torch.float64)
    cond = torch.arange(K) % C
    return cfg, p, cond


def _dense_reference(cfg, p, c, cond, T):
    """x ← (1−α)x + α(W(k) tanh x + drive) with W(k) = Σ_r c_r(k) a_r b_rᵀ built densely, per
    trial, in plain loops (the equation of DESIGN.md §4)."""
    a = p["A"] / p["A"].norm(dim=0)
    b = p["B"] / p["B"].norm(dim=0)
    U = a if cfg.inputs == "span" else torch.eye(cfg.n_rec, dtype=a.dtype)
    D = lm.semi_orthogonal(p["D_raw"])
    out = torch.empty(T, c.shape[0], D.shape[0], dtype=torch.float64)
    for k in range(c.shape[0]):
        W = sum(c[k, r] * torch.outer(a[:, r], b[:, r]) for r in range(cfg.rank))
        x = a @ p["s0"][cond[k]]
        for j in range(cfg.n_prep + T):
            if j >= cfg.n_prep:
                out[j - cfg.n_prep, k] = D @ torch.tanh(x) + p["d"]
            u = p["v"][j, cond[k]] if j < p["v"].shape[0] else torch.zeros(U.shape[1],
                                                                           dtype=a.dtype)
            x = (1 - cfg.alpha) * x + cfg.alpha * (W @ torch.tanh(x) + U @ u)
    return out


@pytest.mark.parametrize("inputs, fast", [("span", True), ("span", False), ("free", False)])
def test_factorised_recurrence_equals_dense(inputs, fast):
    cfg, p, cond = _params(inputs)
    c = torch.randn(7, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    eta, _, _ = lm.predict_eta(p, cfg, c, cond, 6, fast=fast)
    ref = _dense_reference(cfg, p, c, cond, 6)
    torch.testing.assert_close(eta, ref, rtol=0, atol=1e-12)  # float64 round-off only


def test_fast_adjoint_gradients_equal_autograd_reference():
    cfg, p, cond = _params()
    L = gp.cholesky_factor(torch.arange(7.0), gp.GPConfig(length=3.0))
    w = torch.randn(6, 7, 5, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    grads = []
    for fast in (True, False):
        q = {k: v.clone().requires_grad_() for k, v in p.items()}
        c, _, _ = lm.factors(q, L)
        eta, states, drive = lm.predict_eta(q, cfg, c, cond, 6, fast=fast)
        ((eta * w).sum() + states.pow(2).mean() + drive.pow(2).mean()).backward()
        grads.append({k: v.grad for k, v in q.items() if v.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    assert {"A", "B", "Z", "mu", "s0", "v"} <= grads[0].keys()
    for k in grads[1]:
        torch.testing.assert_close(grads[0][k], grads[1][k], rtol=1e-10, atol=1e-12)


def test_latent_unroll_gradcheck():
    """Hand-derived backward pass against finite differences (float64)."""
    g = torch.Generator().manual_seed(0)
    K, N, R, S = 3, 6, 2, 2
    args = [torch.randn(*shape, generator=g, dtype=torch.float64).requires_grad_()
            for shape in ((K, R), (S, K, R), (N, R), (N, R), (K, R))]
    assert torch.autograd.gradcheck(
        lambda *xs: latent_unroll(*xs, alpha=0.4, nonlinearity="tanh", n_steps=5), args)


def test_semi_orthogonal_readout():
    M = torch.randn(4, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    D = lm.semi_orthogonal(M)
    torch.testing.assert_close(D @ D.T, torch.eye(4, dtype=torch.float64))  # orthonormal rows
    D2 = lm.semi_orthogonal(M.T)
    torch.testing.assert_close(D2.T @ D2, torch.eye(4, dtype=torch.float64))


def test_gp_interpolation_reproduces_known_and_smooth_values():
    cfg = gp.GPConfig(length=5.0, scale=1.0, noise=1e-4)
    t = torch.arange(0.0, 40.0, 2.0)
    c = torch.sin(t / 6.0)[:, None]
    mu = torch.zeros(1)
    mid = gp.interpolate(c.double(), mu, t, t[:-1] + 1.0, cfg)
    # smooth function, sampled every 2 trials with ℓ = 5: the posterior mean interpolates it
    # to 2e-3 away from the ends (at the ends the zero-mean prior pulls it by up to ~5e-3)
    truth = torch.sin((t[:-1] + 1.0) / 6.0).double()
    torch.testing.assert_close(mid[3:-3, 0], truth[3:-3], atol=2e-3, rtol=0)
    L = gp.cholesky_factor(t, cfg)
    K = gp.rq_kernel(t, t, cfg) + (1e-8 + 1e-9) * torch.eye(len(t), dtype=torch.float64)
    torch.testing.assert_close(L @ L.T, K)


def test_gp_breaks_at_epochs():
    cfg = gp.GPConfig(break_at_epochs=True)
    epoch = torch.tensor([0, 0, 1, 1])
    L = gp.cholesky_factor(torch.arange(4.0), cfg, epoch)
    assert torch.all((L @ L.T)[:2, 2:] == 0)  # no covariance across the epoch boundary


def test_shared_initial_state_has_one_row_and_conditions_differ_through_inputs():
    from rnnrank.fitting import FitOptions, fit_ltr, ltr_teacher

    rec, _ = ltr_teacher(T=6, K=8, n=4, N=6, rank=1, noise=0.02, seed=0)
    fit = fit_ltr(rec, 1, n_rec=6, initial_state="shared", dtype=torch.float64,
                  options=FitOptions(max_iter=5, eval_every=5))
    assert fit.params["s0"].shape == (1, 1)
    pred = fit.predict()
    assert not torch.allclose(pred[:, 0], pred[:, 1])  # trials 0, 1: conditions 0, 1
    # a held-out trial of condition 3 is still predictable (checked against the inputs)
    assert fit.predict_trials(torch.tensor([3.5]), torch.tensor([3])).shape == (6, 1, 4)
    with pytest.raises(ValueError, match="initial_state must be"):
        fit_ltr(rec, 1, n_rec=6, initial_state="mean")
