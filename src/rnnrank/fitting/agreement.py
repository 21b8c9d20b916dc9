"""Do fits from different seeds find the same trial factors c(k)?

A low-tensor-rank fit of pure noise still draws smooth, drifting c_r(k) (the GP factor makes any
draw smooth), which can look like learning. Fits of the same data from other seeds tell the two
apart: trial factors that carry the data's structure come back, drift fitted to noise does not.
``match_factors`` aligns another fit's components with a reference's (the order and sign of
CP-like components are arbitrary: â_r → −â_r flips c_r); ``seed_agreement`` gives, per
component of the reference, the mean |correlation over trials| with its match in the others.
"""

from __future__ import annotations

import numpy as np


def match_factors(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(matched [K, R] columns of ``other`` in the reference's order and sign, |corr| [R]) for
    trial factors reference, other [K, R] (Hungarian matching on |correlation over trials|)."""
    from scipy.optimize import linear_sum_assignment

    def z(x):
        x = x - x.mean(0)
        return x / np.maximum(np.linalg.norm(x, axis=0), 1e-300)

    corr = z(reference).T @ z(other)  # [R, R']
    rows, cols = linear_sum_assignment(-np.abs(corr))
    order = np.empty(reference.shape[1], dtype=int)
    order[rows] = cols
    r = corr[np.arange(reference.shape[1]), order]
    return other[:, order] * np.sign(np.where(r == 0, 1.0, r)), np.abs(r)


def seed_agreement(fits: list) -> dict:
    """Per component of ``fits[0]`` (the reference, e.g. the best fit), the mean |correlation|
    over trials of c_r(k) with its match in each other fit, and the matched factors
    (``"matched"``: [n_fits − 1] arrays [K, R]) for drawing them."""
    if len(fits) < 2:
        raise ValueError(f"need fits from ≥ 2 seeds to compare, got {len(fits)}")
    ref = fits[0].factors[0].double().numpy()
    matched, corrs = [], []
    for f in fits[1:]:
        m, r = match_factors(ref, f.factors[0].double().numpy())
        matched.append(m)
        corrs.append(r)
    return {"per_component": np.mean(corrs, axis=0).tolist(), "matched": matched,
            "mean": float(np.mean(corrs))}
