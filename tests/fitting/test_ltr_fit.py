"""fit_ltr against planted truths: teachers of known rank and trial factors (``ltr_teacher``)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnrank.fitting import (
    Fit,
    FitOptions,
    Recording,
    block_masks,
    fit_ltr,
    likelihoods,
    ltr_teacher,
)

FAST = FitOptions(max_iter=300, lr=0.1)


def _r2_of_linear_map(c_fit, c_true, M=None):
    """R² of c_true ≈ [c_fit, 1] M per component (M by least squares unless given): trial
    factors are identifiable only up to such a map (scale, sign, mixing)."""
    X = torch.cat([c_fit, torch.ones(len(c_fit), 1, dtype=c_fit.dtype)], 1)
    if M is None:
        M = torch.linalg.lstsq(X, c_true).solution
    resid = ((X @ M - c_true) ** 2).sum(0)
    return 1 - resid / ((c_true - c_true.mean(0)) ** 2).sum(0), M


@pytest.fixture(scope="module")
def rank1():
    rec, truth = ltr_teacher(T=12, K=60, n=10, N=12, rank=1, noise=0.01, seed=1)
    fit = fit_ltr(rec.trials(slice(0, 40)), 1, n_rec=12, options=FAST, dtype=torch.float64)
    return rec, truth, fit


def test_trial_factors_of_a_planted_teacher_are_recovered(rank1):
    rec, truth, fit = rank1
    r2, _ = _r2_of_linear_map(fit.factors[0], truth["c"][:40])
    # measured 0.95 (lr 0.1, 300 iterations); a fit that ignored c(k) would give ≈ 0
    assert r2.item() > 0.85
    # noise variance / data variance of this teacher is ≈ 0.004; a trial-invariant fit ≈ 0.1
    assert fit.train_error < 0.02


def test_transform_recovers_trial_factors_of_new_trials(rank1):
    rec, truth, fit = rank1
    _, M = _r2_of_linear_map(fit.factors[0], truth["c"][:40])
    new = fit.transform(rec.trials(slice(40, 60)), options=FAST)
    c_new, a_new, b_new = new.factors
    torch.testing.assert_close(a_new, fit.factors[1])  # a, b frozen exactly
    torch.testing.assert_close(b_new, fit.factors[2])
    # The map fitted on the old trials carries the new trials' c to the truth (measured 0.90)
    r2, _ = _r2_of_linear_map(c_new, truth["c"][40:], M)
    assert r2.item() > 0.75
    assert new.train_error < 0.05


def test_weights_are_the_factorised_sum(rank1):
    _, _, fit = rank1
    c, a, b = fit.factors
    k = 7
    dense = sum(c[k, r] * torch.outer(a[:, r], b[:, r]) for r in range(fit.rank))
    torch.testing.assert_close(fit.weights(k), dense)
    torch.testing.assert_close(a.norm(dim=0), torch.ones(1, dtype=a.dtype))  # unit columns


def test_save_load_round_trip(rank1, tmp_path):
    _, _, fit = rank1
    fit.save(tmp_path / "f")
    back = Fit.load(tmp_path / "f")
    torch.testing.assert_close(back.predict(), fit.predict(), rtol=0, atol=0)
    assert back.train_error == fit.train_error


def test_held_out_entries_never_influence_the_fit():
    rec, _ = ltr_teacher(T=8, K=12, n=6, N=8, rank=2, noise=0.05, seed=0)
    train, test = block_masks(rec.shape, fraction=0.2, h_train=(2, 2, 0), h_test=(1, 1, 0),
                              seed=3)
    assert test.any() and not (train & test).any()
    garbage = torch.where(test, 1e6 * torch.randn(rec.shape, dtype=rec.data.dtype), rec.data)
    other = Recording(data=garbage, condition=rec.condition)
    opts = FitOptions(max_iter=20, eval_every=5)
    f1 = fit_ltr(rec, 2, n_rec=8, train_mask=train, options=opts, dtype=torch.float64)
    f2 = fit_ltr(other, 2, n_rec=8, train_mask=train, options=opts, dtype=torch.float64)
    for k in f1.params:
        assert torch.equal(f1.params[k], f2.params[k]), k  # bit for bit
    assert f1.train_error == f2.train_error


def test_recording_mask_is_honoured():
    rec, _ = ltr_teacher(T=8, K=12, n=6, N=8, rank=1, noise=0.05, seed=0)
    mask = torch.ones(rec.shape, dtype=torch.bool)
    mask[:, 3] = False  # a missing trial, NaN in the data
    data = rec.data.clone()
    data[:, 3] = float("nan")
    masked = Recording(data=data, condition=rec.condition, mask=mask)
    opts = FitOptions(max_iter=20, eval_every=5)
    f1 = fit_ltr(masked, 1, n_rec=8, options=opts, dtype=torch.float64)
    f2 = fit_ltr(rec, 1, n_rec=8, train_mask=mask, options=opts, dtype=torch.float64)
    for k in f1.params:
        assert torch.equal(f1.params[k], f2.params[k]), k
    assert torch.isfinite(f1.predict()).all()


def test_poisson_fit_of_counts_approaches_the_true_rates():
    rec, _ = ltr_teacher(T=12, K=40, n=10, N=12, rank=1, noise=0.0, seed=1)
    rates = F.softplus(1.0 + 10 * rec.data)
    g = torch.Generator().manual_seed(0)
    counts = Recording(data=torch.poisson(rates, generator=g).long(), condition=rec.condition)
    assert counts.is_counts
    fit = fit_ltr(counts, 1, n_rec=12, loss="poisson", options=FAST, dtype=torch.float64)
    assert (fit.predict() > 0).all()
    mask = torch.ones(rec.shape, dtype=torch.bool)
    oracle = likelihoods.normalised_deviance(rates, counts.data, mask, "poisson")
    # the fit's deviance approaches the oracle's (the true rates'); the null model scores 1
    assert fit.train_error < oracle + 0.5 * (1 - oracle)


def test_bad_input_is_refused():
    rec, _ = ltr_teacher(T=6, K=4, n=3, N=4, rank=1, seed=0)
    with pytest.raises(ValueError, match="rank must be an integer ≥ 1"):
        fit_ltr(rec, 0)
    with pytest.raises(ValueError, match="loss must be one of"):
        fit_ltr(rec, 1, loss="huber")
    with pytest.raises(ValueError, match="loss='poisson' needs non-negative counts"):
        fit_ltr(Recording(data=-torch.ones(6, 4, 3)), 1, loss="poisson")


@pytest.mark.slow
def test_planted_rank_is_the_held_out_elbow():
    """Held-out block error of a rank-2 teacher: rank 1 clearly worse, rank 3 no better."""
    rec, _ = ltr_teacher(T=15, K=40, n=16, N=20, rank=2, noise=0.01, seed=0)
    train, test = block_masks(rec.shape, fraction=0.2, seed=1)
    err = {}
    for r in (1, 2, 3):
        fits = [fit_ltr(rec, r, n_rec=20, seed=s, train_mask=train,
                        options=FitOptions(max_iter=600), dtype=torch.float64) for s in (0, 1)]
        err[r] = min(f.error(test) for f in fits)
    # measured ≈ 0.030 / 0.015 / 0.014 (noise floor ≈ 0.010)
    assert err[1] > 1.4 * err[2]
    assert err[3] > 0.8 * err[2]


def test_gamma_fit_learns_the_noise_shape_of_positive_rates():
    rec, _ = ltr_teacher(T=12, K=40, n=10, N=12, rank=1, noise=0.0, seed=1)
    mean = F.softplus(1.0 + 10 * rec.data)
    shape = 20.0
    g = torch.distributions.Gamma(torch.full_like(mean, shape), shape / mean)
    torch.manual_seed(0)
    y = Recording(data=g.sample(), condition=rec.condition)
    fit = fit_ltr(y, 1, n_rec=12, loss="gamma", options=FAST, dtype=torch.float64)
    k = fit.params["log_shape"].exp()
    # the shape starts at 1 and rises toward the planted 20 as the means fit (measured median
    # ≈ 12 after 300 iterations; misfit of a neuron's mean lowers its shape); the deviance is
    # well below the null's 1 (measured 0.47)
    assert 4 < float(k.median()) < 30
    assert fit.train_error < 0.7
