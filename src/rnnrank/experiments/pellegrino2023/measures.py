"""Numbers behind the four claims of the Pellegrino et al. (2023) reproduction.

- ``recovery``: fitted vs true factors of one fit — principal angles between span(D â), span(D b̂)
  (fitted directions seen through the readout, on the recorded units) and the true CP directions
  restricted to those units; R² of the true CP trial factors from the fitted c(k) (linear map).
- ``chance_levels``: the same numbers for random subspaces and random smooth trial factors (the
  5th / 95th percentiles are what "better than chance" must beat).
- ``learning_numbers``: per split, the learning budget of the noiseless oracle and of a
  model-free running condition mean, and the nested difference ltrRNN − trial-invariant nMSE.
- ``fit_ceiling``: the nested fit on the *noiseless* oracle recording (one split): if its
  learning score is ≤ 0 too, the fits' own error — not the recording noise — hides learning.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from ...fitting import (
    FitOptions,
    Recording,
    fit_ltr,
    learning_score,
    oracle_budget,
    running_condition_mean,
)


def principal_angles(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Principal angles (degrees, ascending) between span(X) and span(Y), X [n, p], Y [n, q]."""
    from scipy.linalg import subspace_angles

    return np.degrees(subspace_angles(X, Y))[::-1]


def r2_linear_map(c_fit: np.ndarray, c_true: np.ndarray) -> np.ndarray:
    """R² per true component of c_true ≈ [c_fit, 1] M (least squares)."""
    X = np.c_[c_fit, np.ones(len(c_fit))]
    M = np.linalg.lstsq(X, c_true, rcond=None)[0]
    resid = ((X @ M - c_true) ** 2).sum(0)
    return 1 - resid / ((c_true - c_true.mean(0)) ** 2).sum(0)


def recovery(fit, cp, units: np.ndarray) -> dict:
    """Angles (deg) and R² of one fit against the CP of the true ΔW (trials 1..K−1)."""
    c_fit, a_fit, b_fit = (t.double().numpy() for t in fit.factors)
    D = fit.readout.double().numpy()
    C, A, B = (t.double().numpy() for t in cp.factors)
    ang_a = principal_angles(D @ a_fit, A[units])
    ang_b = principal_angles(D @ b_fit, B[units])
    r2 = r2_linear_map(c_fit[1:], C * cp.weights.double().numpy())
    return {"angles_a": ang_a.tolist(), "angles_b": ang_b.tolist(),
            "mean_angle": float(np.mean(np.r_[ang_a, ang_b])), "c_r2": r2.tolist(),
            "mean_c_r2": float(np.mean(r2))}


def chance_levels(cp, units: np.ndarray, rank_fit: int, n_trials: int, *, draws: int = 200,
                  smooth: float = 5.0, seed: int = 0) -> dict:
    """5th percentile of the mean angle of random rank_fit-dim subspaces of the recorded units,
    and 95th percentile of the mean R² from random smooth trial factors (Gaussian-filtered
    white noise, σ = ``smooth`` trials) of the same shape as the fit's c."""
    from scipy.ndimage import gaussian_filter1d

    rng = np.random.default_rng(seed)
    C, A, B = (t.double().numpy() for t in cp.factors)
    Ct = C * cp.weights.double().numpy()
    n = len(units)
    angles, r2 = [], []
    for _ in range(draws):
        X = rng.standard_normal((n, rank_fit))
        Y = rng.standard_normal((n, rank_fit))
        angles.append(np.mean(np.r_[principal_angles(X, A[units]),
                                    principal_angles(Y, B[units])]))
        c = gaussian_filter1d(rng.standard_normal((n_trials, rank_fit)), smooth, axis=0)
        r2.append(np.mean(r2_linear_map(c[1:], Ct)))
    return {"angle_p5": float(np.percentile(angles, 5)), "angle_median": float(np.median(angles)),
            "r2_p95": float(np.percentile(r2, 95)), "r2_median": float(np.median(r2))}


def learning_numbers(rec, oracle: np.ndarray, splits, fits, invariant_errors) -> dict:
    """Per split: noiseless-oracle budget, running-mean budget, ltrRNN − invariant nMSE."""
    oracle = torch.as_tensor(oracle, dtype=torch.float64)
    out = {"oracle_budget": [], "running_mean_budget": [], "nested_difference": []}
    for (train, test), fit, inv in zip(splits, fits, invariant_errors, strict=True):
        out["oracle_budget"].append(oracle_budget(oracle, rec, train, test))
        run = running_condition_mean(rec, train)
        out["running_mean_budget"].append(oracle_budget(run, rec, train, test))
        out["nested_difference"].append(fit.error(test) - inv)
    return out


def fit_ceiling(rec: Recording, oracle: np.ndarray, split, rank: int, *, n_rec: int,
                options: FitOptions, seed: int = 0) -> dict:
    """Trial-invariant then nested ltrRNN fit of the noiseless oracle recording on ``split``:
    their held-out nMSE, the ltrRNN's learning score, and the oracle's budget there."""
    clean = Recording(data=torch.as_tensor(oracle, dtype=torch.float32),
                      condition=rec.condition, trial_id=rec.trial_id, times=rec.times,
                      epoch=rec.epoch)
    train, test = split
    frozen = dataclasses.replace(options, frozen=("Z",))
    inv = fit_ltr(clean, rank, n_rec=n_rec, train_mask=train, options=frozen, seed=seed)
    fit = fit_ltr(clean, rank, n_rec=n_rec, train_mask=train, options=options, seed=seed,
                  init=inv)
    return {"rank": rank, "invariant_nmse": inv.error(test), "ltr_nmse": fit.error(test),
            "learning_score": learning_score(fit, clean, train, test),
            "budget": oracle_budget(clean.data, clean, train, test)}
