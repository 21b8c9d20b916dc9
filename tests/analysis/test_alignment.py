"""``alignment`` against the linear theory's exact rank-one change (Schuessler et al. 2020, §4)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnrank import analysis as an
from rnnrank.analysis import linear_theory as lt


def test_planted_theory_direction_is_found_exactly():
    """ΔW = c (B0ᵀw)(B0m)ᵀ, built here by direct solves: |cos| = 1 with the propagated vectors,
    and 0 with directions planted orthogonal to them (float64 round-off: 1e-12)."""
    rng = np.random.default_rng(0)
    n, g = 60, 0.7
    w0 = g * rng.standard_normal((n, n)) / np.sqrt(n)
    m, w = rng.standard_normal((n, 1)), rng.standard_normal((1, n))
    A = np.eye(n) - w0
    bm, btw = np.linalg.solve(A, m)[:, 0], np.linalg.solve(A.T, w.T)[:, 0]
    # a second, weaker component orthogonal to both propagated vectors
    q, _ = np.linalg.qr(np.column_stack([btw, bm, rng.standard_normal((n, 2))]))
    delta = 3.0 * np.outer(btw, bm) / (np.linalg.norm(btw) * np.linalg.norm(bm)) \
        + 0.5 * np.outer(q[:, 2], q[:, 3])
    al = an.alignment(w0, delta, m, w, n_vectors=2)
    np.testing.assert_allclose(al["left_Btw"][:, 0], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(al["right_Bm"][:, 0], [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(al["svals"], [3.0, 0.5], atol=1e-12)
    # against the unpropagated w and m the overlap is the cosine between w and B0ᵀw (< 1 at g > 0)
    cos_w = abs(w[0] @ btw) / (np.linalg.norm(w) * np.linalg.norm(btw))
    assert al["left_w"][0, 0] == pytest.approx(cos_w, abs=1e-12)


@pytest.mark.parametrize("g", [0.5, 0.8])
def test_gradient_descent_change_aligns_with_propagated_vectors(g):
    """A linear network trained by SGD for a short learning time changes by the first-order
    rank-one term: its top singular vectors align with B0ᵀw and B0m to O(τ̃) (τ̃ = 0.05 here),
    clearly better than with w and m themselves (whose overlap with B0ᵀw, B0m is ~1/√β)."""
    p = lt.LinearProblem.draw(200, g, 1.0, seed=2, zero_initial_output=True)
    run = lt.simulate(p, lr=0.001 / lt.beta(g) ** 2, steps=50, record_svals=False)
    al = an.alignment(p.W0, run.delta, p.m[:, None], p.w[None, :], n_vectors=1)
    assert al["left_Btw"][0, 0] > 0.99 and al["right_Bm"][0, 0] > 0.99
    assert al["left_w"][0, 0] < al["left_Btw"][0, 0] - 0.05
    assert al["right_m"][0, 0] < al["right_Bm"][0, 0] - 0.05
