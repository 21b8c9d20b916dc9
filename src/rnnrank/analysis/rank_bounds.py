"""Rank bounds of gradient-descent learning in RNNs (Pellegrino, Cayco-Gajic & Chadwick 2023).

Two kinds of bound, each with its assumptions, and checks that a recorded trajectory obeys them.

1. **Linear network from W0 = 0** (φ = identity, x0 = 0, plain gradient descent — SGD without
   per-coordinate scaling; U, V, b may train). Let S = span[U(0), V(0)ᵀ] (dimension
   d ≤ d_in + d_out). If W, U's columns, V's rows and b lie in S, then every state and every
   adjoint lies in S, so every gradient of W lies in S ⊗ S, and the set is invariant. Hence
   rank W(k) ≤ d_in + d_out for all k, and the trajectory tensor [K, N, N] lies in R^K ⊗ S ⊗ S:
   its multilinear rank is ≤ (K, d, d), so its CP rank is ≤ d² (a basis of S ⊗ S).
   Adam breaks this (its elementwise scaling leaves S ⊗ S).

2. **One update, generic W0.** The BPTT gradient is ∂L/∂W = α Σ_{t,b} λ[t+1] φ(x[t])ᵀ, a sum of
   T·B outer products, so rank ΔW ≤ T·B for any φ. For a linear network (φ = identity) the states
   lie in the Krylov space K_T(A, [U, b, x0]) and the adjoints in K_T(Aᵀ, Vᵀ) of the one-step map
   A = (1−α)I + αW, so rank ΔW ≤ min(T·B, T·(d_in + 1), T·d_out) (the +1 for a non-zero b or x0).
   With plain SGD the update is −lr times this gradient, so the same bound holds for W(k+1) − W(k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RankBound:
    """A bound and what it assumes."""

    matrix_rank: int
    tensor_rank: int | None
    assumptions: str


def linear_zero_init_bound(n_in: int, n_out: int, n_rec: int) -> RankBound:
    """Bound 1: rank W(k) ≤ d_in + d_out (and ≤ N); CP rank of the trajectory ≤ d²."""
    d = min(n_in + n_out, n_rec)
    return RankBound(d, d * d, "φ = identity, W0 = 0, x0 = 0, plain gradient descent (SGD, no "
                     "momentum, no Adam); U, V, b trained or not")


def single_update_bound(n_steps: int, batch_size: int, n_in: int, n_out: int, n_rec: int, *,
                        linear: bool, affine: bool = True) -> RankBound:
    """Bound 2 on one update's ΔW (rank of W(k+1) − W(k) under plain SGD).

    Args:
        n_steps: trial length T; batch_size: B; n_in, n_out, n_rec: sizes.
        linear: φ = identity (enables the Krylov bounds).
        affine: b or x0 may be non-zero (adds one direction to the input Krylov space).
    """
    bound = n_steps * batch_size
    if linear:
        bound = min(bound, n_steps * (n_in + int(affine)), n_steps * n_out)
    return RankBound(min(bound, n_rec), None,
                     "one plain-gradient update of W; " + ("φ = identity" if linear else "any φ"))


def numerical_rank(matrix, *, rtol: float = 1e-9) -> int:
    """Number of singular values above ``rtol`` × the largest (0 for a zero matrix).

    ``rtol = 1e-9`` suits float64 trajectories; use ~1e-4 for float32 ones.
    """
    s = np.linalg.svd(np.asarray(matrix, dtype=np.float64), compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s.size and s[0] > 0 else 0


def multilinear_rank(tensor, *, rtol: float = 1e-9) -> tuple[int, int, int]:
    """Numerical ranks of the three unfoldings of a [K, N, N] tensor."""
    x = np.asarray(tensor, dtype=np.float64)
    K, N, M = x.shape
    return (numerical_rank(x.reshape(K, N * M), rtol=rtol),
            numerical_rank(x.transpose(1, 0, 2).reshape(N, K * M), rtol=rtol),
            numerical_rank(x.transpose(2, 0, 1).reshape(M, K * N), rtol=rtol))


@dataclass(frozen=True)
class BoundCheck:
    """Measured ranks against a bound. ``holds`` is True when no measured rank exceeds it."""

    bound: RankBound
    measured: list[int]
    multilinear: tuple[int, int, int] | None
    holds: bool


def check_linear_zero_init(weights, n_in: int, n_out: int, *, rtol: float = 1e-9) -> BoundCheck:
    """Check bound 1 on a trajectory W(k) [K, N, N] of a linear network started at W0 = 0."""
    w = np.asarray(weights, dtype=np.float64)
    bound = linear_zero_init_bound(n_in, n_out, w.shape[-1])
    ranks = [numerical_rank(wk, rtol=rtol) for wk in w]
    ml = multilinear_rank(w, rtol=rtol)
    d = bound.matrix_rank
    holds = max(ranks) <= d and ml[1] <= d and ml[2] <= d
    return BoundCheck(bound, ranks, ml, holds)


def check_single_updates(weights, bound: RankBound, *, rtol: float = 1e-9) -> BoundCheck:
    """Check a per-update bound on a trajectory recorded after every update (record_every=1)."""
    w = np.asarray(weights, dtype=np.float64)
    ranks = [numerical_rank(w[k + 1] - w[k], rtol=rtol) for k in range(len(w) - 1)]
    return BoundCheck(bound, ranks, None, max(ranks, default=0) <= bound.matrix_rank)
