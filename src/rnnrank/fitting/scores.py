"""Scores that separate a network that learns from one that does not: the learning score.

Total held-out error cannot tell a low-tensor-rank RNN from a trial-invariant one when the part
of the data that learning changes is small beside the fits' shared error (Pellegrino et al. 2023
teachers: ~1 % of the variance). The *learning score* scores only that part.

Notation: data y [T, K, n], trials k of condition c(k), training entries S_train, held-out
entries S_test (bool masks [T, K, n]). The condition mean of the data is taken over training
entries only,

    m_y[t, c, i] = mean_{k : cond(k) = c, (t, k, i) ∈ S_train} y[t, k, i],

and the *residual* of a held-out entry is r = y − m_y[cond(k)]: what differs from trial to trial
within a condition (learning, plus noise). The fit's prediction ŷ is centred the same way on its
own condition mean over the same training entries, p = ŷ − m_ŷ[cond(k)], and

    learning_score = 1 − Σ_test (r − p)² / Σ_test r²       (an uncentred R² of r by p).

A trial-invariant model (ŷ the same on every trial of a condition) has p = 0 exactly — the mean is
taken as an offset from one reference trial, so identical values cancel in floating point — and
scores exactly 0. A model that tracks learning scores > 0; one that predicts trial-to-trial
changes that are not there scores < 0. Held-out entries whose (t, condition, neuron) has no
training entry are skipped (no condition mean to subtract).

``oracle_budget`` measures how much a model that tracks learning *could* gain on the same entries:
the normalised MSE of the oracle's own condition mean minus that of the oracle (e.g. the
noiseless teacher, or a running condition mean over neighbouring training trials).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .recording import Recording


def _mean_by_condition(x: Tensor, condition: Tensor, weight: Tensor, n_cond: int) -> Tensor:
    """Weighted mean over the trials of each condition, [T, C, n] (0 where no weight), computed
    as an offset from the first trial of the condition so that equal values give exactly 0."""
    T, _, n = x.shape
    out = torch.zeros(T, n_cond, n, dtype=torch.float64)
    for c in range(n_cond):
        idx = torch.nonzero(condition == c).flatten()
        if idx.numel() == 0:
            continue
        xc, wc = x[:, idx], weight[:, idx]
        ref = xc[:, :1]
        out[:, c] = ref[:, 0] + ((xc - ref) * wc).sum(1) / wc.sum(1).clamp_min(1.0)
    return out


def condition_residuals(x: Tensor, condition: Tensor, train_mask: Tensor) -> tuple[Tensor, Tensor]:
    """(x − its condition mean over ``train_mask`` entries [T, K, n] float64, bool [T, K, n]
    True where that condition mean exists)."""
    x = x.to(torch.float64)
    condition = torch.as_tensor(condition, dtype=torch.long)
    w = train_mask.to(torch.float64)
    n_cond = int(condition.max()) + 1
    mean = _mean_by_condition(x, condition, w, n_cond)
    count = torch.zeros(x.shape[0], n_cond, x.shape[2], dtype=torch.float64)
    count.index_add_(1, condition, w)
    return x - mean[:, condition], (count > 0)[:, condition]


def learning_score(pred, rec: Recording, train_mask: Tensor, test_mask: Tensor) -> float:
    """R² of the held-out residuals from the condition mean by the prediction's own residuals.

    Args:
        pred: predicted mean [T, K, n] of the fitted trials, or a ``Fit`` (its ``predict()``).
        rec: the recording the fit saw (data, condition, mask).
        train_mask, test_mask: bool [T, K, n]; condition means use ``train_mask`` entries only,
            the score sums over ``test_mask`` entries.

    Returns:
        the learning score of the module docstring (exactly 0 for a trial-invariant prediction;
        NaN when no held-out entry has a condition mean or the residuals are all 0).
    """
    if hasattr(pred, "predict"):
        pred = pred.predict()
    pred = torch.as_tensor(pred)
    if tuple(pred.shape) != rec.shape:
        raise ValueError(f"pred: expected shape {rec.shape} like the recording, got "
                         f"{tuple(pred.shape)}")
    for name, m in (("train_mask", train_mask), ("test_mask", test_mask)):
        if tuple(m.shape) != rec.shape:
            raise ValueError(f"{name}: expected shape {rec.shape}, got {tuple(m.shape)}")
    obs = rec.observed()
    train = train_mask.to(torch.bool) & obs
    r, has_mean = condition_residuals(rec.data, rec.condition, train)
    p, _ = condition_residuals(pred, rec.condition, train)
    test = test_mask.to(torch.bool) & obs & has_mean
    den = (r[test] ** 2).sum()
    if not bool(test.any()) or float(den) == 0.0:
        return float("nan")
    return float(1.0 - ((r[test] - p[test]) ** 2).sum() / den)


def nmse(pred: Tensor, rec: Recording, mask: Tensor) -> float:
    """Σ_mask (y − ŷ)² / Σ_mask (y − ȳ_neuron)²: the normalised MSE of ``likelihoods``."""
    from .likelihoods import normalised_deviance

    return normalised_deviance(torch.as_tensor(pred), rec.data, mask & rec.observed(), "mse")


def condition_mean_prediction(rec: Recording, train_mask: Tensor) -> Tensor:
    """[T, K, n]: each entry predicted by its condition mean over the training entries (the
    best trial-invariant predictor; its learning score is exactly 0)."""
    y = rec.data.to(torch.float64)
    r, _ = condition_residuals(y, rec.condition, train_mask & rec.observed())
    return y - r


def running_condition_mean(rec: Recording, train_mask: Tensor, *, width: float = 10.0) -> Tensor:
    """[T, K, n]: a model-free oracle that tracks learning — for each trial, a Gaussian-weighted
    mean (σ = ``width`` trials of ``trial_id``) of the training entries of the same condition."""
    y = rec.data.to(torch.float64)
    w = (train_mask & rec.observed()).to(torch.float64)
    out = torch.zeros_like(y)
    tid = rec.trial_id
    for c in torch.unique(rec.condition):
        idx = torch.nonzero(rec.condition == c).flatten()
        d = tid[idx][:, None] - tid[idx][None, :]
        G = torch.exp(-0.5 * (d / width) ** 2)  # [k, k']
        num = torch.einsum("kl,tln->tkn", G, y[:, idx] * w[:, idx])
        den = torch.einsum("kl,tln->tkn", G, w[:, idx]).clamp_min(1e-12)
        out[:, idx] = num / den
    return out


def oracle_budget(oracle: Tensor, rec: Recording, train_mask: Tensor,
                  test_mask: Tensor) -> float:
    """nMSE(the oracle's own condition mean) − nMSE(oracle) on the held-out entries.

    The oracle's condition mean (over the training entries) is the best trial-invariant
    version of the oracle; the difference is what tracking learning gains on those entries,
    with the estimation noise of a condition mean taken out (both predictors know the same).
    > 0 when there is learning the oracle sees; 0 for an oracle that does not change across
    the trials of a condition.
    """
    oracle = torch.as_tensor(oracle).to(torch.float64)
    train = train_mask & rec.observed()
    resid, has_mean = condition_residuals(oracle, rec.condition, train)
    test = test_mask & has_mean
    return nmse(oracle - resid, rec, test) - nmse(oracle, rec, test)
