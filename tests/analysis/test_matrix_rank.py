"""Effective ranks and truncation against planted truths (float64)."""

from __future__ import annotations

import numpy as np
import pytest

from rnnrank import analysis as an


def planted(n: int, svals, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((n, n)))
    v, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = np.zeros(n)
    s[: len(svals)] = svals
    return (u * s) @ v.T


@pytest.mark.parametrize("rank", [1, 3, 7])
def test_equal_planted_singular_values_give_the_rank_for_every_kind(rank):
    s = an.singular_values(planted(40, [2.0] * rank))
    for kind in ("participation", "entropy", "fraction"):
        # Round-off of the SVD is ~1e-15 relative; the zero singular values are ~1e-15.
        assert an.effective_rank(s, kind, fraction=0.99) == pytest.approx(rank, rel=1e-9)


def test_unequal_singular_values():
    s = np.array([3.0, 1.0, 0.0])
    assert an.effective_rank(s, "participation") == pytest.approx(100 / 82)
    p = np.array([0.9, 0.1])
    assert an.effective_rank(s, "entropy") == pytest.approx(np.exp(-(p * np.log(p)).sum()))
    assert an.effective_rank(s, "fraction", fraction=0.9) == 1   # 9/10 of the energy
    assert an.effective_rank(s, "fraction", fraction=0.95) == 2
    assert an.effective_rank(np.zeros(4), "entropy") == 0
    with pytest.raises(ValueError, match="kind must be one of"):
        an.effective_rank(s, "nuclear")


def test_truncation_is_the_best_low_rank_approximation():
    d = planted(30, [5.0, 3.0, 1.0, 0.5])
    w0 = np.random.default_rng(1).standard_normal((30, 30))
    assert np.array_equal(an.truncate(w0, d, 0), w0)          # R = 0 is W0 exactly
    assert np.array_equal(an.truncate(w0, d, 30), w0 + d)     # full rank: no SVD round-off
    r2 = an.truncate(w0, d, 2) - w0
    # Eckart–Young: the residual's norm is that of the discarded singular values.
    assert np.linalg.norm(d - r2) == pytest.approx(np.hypot(1.0, 0.5), rel=1e-12)
    assert np.linalg.matrix_rank(r2) == 2
    with pytest.raises(ValueError, match="rank must be an integer"):
        an.truncate(w0, d, -1)


def test_ranks_over_a_trajectory_and_ensemble_member():
    w0 = np.random.default_rng(2).standard_normal((20, 20))
    traj = np.stack([w0, w0 + planted(20, [1.0]), w0 + planted(20, [1.0, 1.0, 1.0], seed=3)])
    out = an.ranks_over_training(traj)
    assert out["participation"] == pytest.approx([0, 1, 3], abs=1e-9)
    ens = np.stack([traj, traj[:, ::-1]], axis=1)  # [K, E, N, N]
    assert an.ranks_over_training(ens, member=0)["fraction"] == pytest.approx([0, 1, 3])
    with pytest.raises(ValueError, match="member="):
        an.ranks_over_training(ens)
