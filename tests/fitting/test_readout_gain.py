"""The fit's readout: a learned gain lets it reach data of any scale (issue 31.1).

D = γ Q (Q semi-orthogonal [n, N]) by default; ``readout="orthogonal"`` (γ = 1, the paper's)
produces at most √N·max|φ| per bin, which z-scored data of n > N units exceed.
"""

from __future__ import annotations

import math
import statistics
import warnings

import pytest
import torch

from rnnrank.fitting import Fit, Recording, block_masks, fit_ltr, ltr_teacher
from rnnrank.fitting import ltr_model as lm
from rnnrank.fitting.optimise import _objective


def _zscored_teacher(seed: int) -> Recording:
    """Clean rates of a rank-2 teacher, 32 units each z-scored: RMS norm per bin √32 ≈ 5.7,
    twice the √8 ≈ 2.8 that an N = 8 fit's readout without gain can produce."""
    rec, _ = ltr_teacher(T=10, K=24, n=32, N=32, rank=2, noise=0.0, seed=seed)
    y = rec.data
    return Recording(data=(y - y.mean((0, 1))) / y.std((0, 1)), condition=rec.condition)


def _held_out_nmse(readout: str, scale: float) -> list[float]:
    out = []
    for seed in range(3):
        rec = _zscored_teacher(seed)
        train, test = block_masks(rec.shape, fraction=0.2, seed=seed)
        data = Recording(data=scale * rec.data, condition=rec.condition)
        fit = fit_ltr(data, 2, n_rec=8, readout=readout, train_mask=train, seed=seed,
                      max_iter=200, dtype=torch.float64)
        out.append(fit.error(test))
    return out


def test_held_out_error_does_not_depend_on_the_data_scale():
    """n = 32 > N = 8: a fit of the data and of the data × 0.4 agree within their seed spread;
    without the gain the × 1 fit cannot reach the data and is far worse."""
    one, small = _held_out_nmse("scaled", 1.0), _held_out_nmse("scaled", 0.4)
    m1, m04 = statistics.mean(one), statistics.mean(small)
    se = math.sqrt((statistics.variance(one) + statistics.variance(small)) / 3)
    # measured (200 iterations, 3 seeds): × 1 0.067 ± 0.013 (sd), × 0.4 0.063 ± 0.015; the
    # difference of the means, 0.004, within 2 s.e. of a difference (0.023). The fit is scale-
    # equivariant but for Adam's absolute steps on d, so the agreement is not exact.
    assert abs(m1 - m04) <= 2 * se, (one, small)
    with pytest.warns(UserWarning, match=r"readout='orthogonal' produces at most"):
        capped = _held_out_nmse("orthogonal", 1.0)
    # measured 0.85 ± 0.14 (sd): every capped fit worse than the worst fit with the gain
    # (this is what the test detects; before the gain every fit was capped)
    assert min(capped) > 3 * max(one), (capped, one)


def test_orthogonal_readout_warns_once_only_when_out_of_reach():
    rec = _zscored_teacher(0)
    with pytest.warns(UserWarning) as caught:
        fit_ltr(rec, 1, n_rec=8, readout="orthogonal", max_iter=1, val_fraction=0.0)
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert "5.6" in str(caught[0].message) and "2.83" in str(caught[0].message)
    small = Recording(data=0.4 * rec.data, condition=rec.condition)  # norm 2.3 < 2.83: quiet
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_ltr(small, 1, n_rec=8, readout="orthogonal", max_iter=1, val_fraction=0.0)
        fit_ltr(rec, 1, n_rec=8, max_iter=1, val_fraction=0.0)  # the default has a gain
        fit_ltr(rec, 1, n_rec=8, readout="orthogonal", nonlinearity="relu", max_iter=1,
                val_fraction=0.0)  # unbounded φ: no cap


def test_initial_gain_is_proportional_to_the_data_scale():
    rec = _zscored_teacher(0)
    f1 = fit_ltr(rec, 1, n_rec=8, max_iter=1, val_fraction=0.0, lr=1e-12)
    f2 = fit_ltr(Recording(data=0.4 * rec.data, condition=rec.condition), 1, n_rec=8,
                 max_iter=1, val_fraction=0.0, lr=1e-12)
    # γ0 = RMS norm per bin / (√N max|φ|) = √32 / √8 = 2 for z-scored data (population std:
    # the RMS uses 1/count, y.std 1/(count − 1), hence the 1e-2 tolerance)
    assert float(f1.params["log_gain"].exp()) == pytest.approx(2.0, rel=1e-2)
    ratio = float((f2.params["log_gain"] - f1.params["log_gain"]).exp())
    assert ratio == pytest.approx(0.4, rel=1e-5)


def test_scaled_readout_is_gain_times_the_orthogonal_one():
    cfg = lm.ModelConfig(rank=2, n_rec=6)
    assert cfg.readout == "scaled"
    p = lm.init_params(cfg, n_trials=4, n_out=9, n_cond=2, n_steps_in=3, seed=0,
                       dtype=torch.float64)
    orth = lm.readout_matrix(p, lm.ModelConfig(rank=2, n_rec=6, readout="orthogonal"))
    torch.testing.assert_close(lm.readout_matrix(p, cfg), orth, rtol=0, atol=0)  # γ0 = 1
    torch.testing.assert_close(orth.T @ orth, torch.eye(6, dtype=torch.float64))  # n > N
    p["log_gain"] = torch.tensor(math.log(3.0), dtype=torch.float64)
    torch.testing.assert_close(lm.readout_matrix(p, cfg), 3.0 * orth)
    with pytest.raises(ValueError, match="readout must be one of"):
        lm.ModelConfig(rank=1, n_rec=2, readout="gain")


def test_gain_gradient_matches_finite_differences():
    """∂L/∂log_gain (and ∂L/∂D_raw) of the training objective through the fast path (the latent
    unroll with its hand-derived backward; the readout is outside it, autograd) against
    central finite differences in float64."""
    rec, _ = ltr_teacher(T=5, K=6, n=7, N=5, rank=2, noise=0.1, seed=0)
    cfg = lm.ModelConfig(rank=2, n_rec=4, n_prep=2)
    p = lm.init_params(cfg, n_trials=6, n_out=7, n_cond=rec.n_conditions, n_steps_in=2,
                       seed=1, dtype=torch.float64)
    p["log_gain"] = torch.tensor(0.3, dtype=torch.float64)
    L = torch.eye(6, dtype=torch.float64)
    mask = torch.ones(rec.shape, dtype=torch.bool)
    mask[0, 1] = False

    def objective(log_gain, D_raw, A):
        q = {**p, "log_gain": log_gain, "D_raw": D_raw, "A": A}
        return _objective(q, cfg, L, rec.data, rec.condition, mask, "mse", 0.7, 0.01, 5)[1]

    args = tuple(p[k].clone().requires_grad_() for k in ("log_gain", "D_raw", "A"))
    # eps 1e-6 in float64: truncation error O(eps²) and rounding O(1e-16/eps) both ≪ atol
    assert torch.autograd.gradcheck(objective, args, eps=1e-6, atol=1e-7, rtol=1e-5)


def test_gain_is_saved_reloaded_and_frozen_by_transform(tmp_path):
    rec = _zscored_teacher(1)
    fit = fit_ltr(rec.trials(slice(0, 16)), 1, n_rec=8, max_iter=20, eval_every=5,
                  dtype=torch.float64)
    assert fit.cfg.readout == "scaled" and fit.params["log_gain"].shape == ()
    back = Fit.load(fit.save(tmp_path / "f"))
    assert back.cfg.readout == "scaled"
    assert torch.equal(back.params["log_gain"], fit.params["log_gain"])
    torch.testing.assert_close(back.predict(), fit.predict(), rtol=0, atol=0)
    torch.testing.assert_close(back.readout.norm(dim=0),
                               fit.params["log_gain"].exp().expand(8))  # γ × unit columns
    new = fit.transform(rec.trials(slice(16, 24)), max_iter=5, eval_every=5)
    assert torch.equal(new.params["log_gain"], fit.params["log_gain"])
    small = Recording(data=0.4 * rec.data, condition=rec.condition)  # within reach: no warning
    orth = fit_ltr(small, 1, n_rec=8, readout="orthogonal", max_iter=5, eval_every=5)
    back = Fit.load(orth.save(tmp_path / "o"))
    assert back.cfg.readout == "orthogonal" and "log_gain" not in back.params
    torch.testing.assert_close(back.predict(), orth.predict(), rtol=0, atol=0)
