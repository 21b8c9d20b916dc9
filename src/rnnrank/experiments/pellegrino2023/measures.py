"""Numbers behind the four claims of the Pellegrino et al. (2023) reproduction.

- ``recovery``: fitted vs true factors of one fit — principal angles between span(D â), span(D b̂)
  (fitted directions seen through the readout, on the recorded units) and the true CP directions
  restricted to those units; R² of the true CP trial factors from the fitted c(k) (linear map).
- ``chance_levels``: the same numbers for random subspaces and random smooth trial factors (the
  5th / 95th percentiles are what "better than chance" must beat).
- ``heldout_cp_errors`` / ``elbow_rank``: the CP rank of a weight tensor named by the fits' own
  one-SE rule on held-out entries; ``multilinear_ranks``; ``activity_basis`` and
  ``restricted_weights``: the weights as the activity sees them (Pᵀ W(k) P).
"""

from __future__ import annotations

import numpy as np
import torch


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


# --- claims (i) and (ii): the teacher's weights, named by the rule the fits' CV uses -----------

def heldout_cp_errors(tensor: torch.Tensor, ranks, *, splits, fraction: float = 0.1,
                      n_restarts: int = 1, seed: int = 0) -> dict[int, list[float]]:
    """{rank: [held-out relative error per split]} of CP models of ``tensor`` [K, N, N] fitted
    with ``fraction`` of its entries hidden (EM imputation), scored on those entries:
    ‖X − X̂‖ / ‖X‖ over the hidden entries. Held-out entries, not the training error, so that
    the one-SE rule of the fits' cross-validation can name a rank here too."""
    from ...analysis import cp_decompose

    out: dict[int, list[float]] = {int(r): [] for r in ranks}
    x = tensor.double()
    for s in splits:
        g = torch.Generator().manual_seed(10_000 + int(s))
        test = torch.rand(x.shape, generator=g, dtype=torch.float64) < fraction
        for r in ranks:
            cp = cp_decompose(x, int(r), n_restarts=n_restarts, seed=seed + int(s),
                              mask=~test, max_iter=300)
            resid = (cp.to_tensor().double() - x)[test]
            out[int(r)].append(float(resid.norm() / x[test].norm()))
    return out


def elbow_rank(errors: dict[int, list[float]]) -> int:
    """The rank the fits' cross-validation would name from these held-out errors (its one-SE
    rule: the smallest rank whose mean is within one s.e. of the best mean)."""
    from ...fitting.crossval import one_se_rule

    return one_se_rule(errors)


def multilinear_ranks(tensor: torch.Tensor, energy: float = 0.99) -> tuple[int, int, int]:
    """Numerical multilinear rank (trial, post, pre) of ``tensor`` [K, N, N]: per unfolding,
    the fewest singular values holding ``energy`` of its squared norm (an rnnrank convention:
    the paper names no threshold)."""
    x = tensor.double()
    out = []
    for mode in range(3):
        s = torch.linalg.svdvals(x.movedim(mode, 0).reshape(x.shape[mode], -1))
        frac = torch.cumsum(s**2, 0) / (s**2).sum()
        out.append(int((frac < energy).sum()) + 1)
    return tuple(out)


def activity_basis(rates: np.ndarray, *, variance: float = 0.99, max_dim: int = 20
                   ) -> np.ndarray:
    """P [N, d]: the leading principal components of rates [T, K, N] (centred over time and
    trials) explaining ``variance`` of it, at most ``max_dim``."""
    x = rates.reshape(-1, rates.shape[-1])
    x = x - x.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    frac = np.cumsum(s**2) / np.sum(s**2)
    d = min(int(np.sum(frac < variance)) + 1, max_dim)
    return vt[:d].T


def restricted_weights(W: np.ndarray, P: np.ndarray) -> torch.Tensor:
    """Pᵀ W(k) P [K, d, d]: the weights as the activity sees them (W [K, N, N], P [N, d])."""
    return torch.as_tensor(np.einsum("ia,kij,jb->kab", P, W, P))
