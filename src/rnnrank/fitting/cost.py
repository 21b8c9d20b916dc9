"""Floating-point work of a low-tensor-rank fit: the count a throughput is measured against.

One Adam iteration of ``fit_ltr`` (``inputs="span"``, the default) draws the trial factors
c = L Z + μ (2·K²·R flops), unrolls the latent state s ∈ R^R of every trial over
J = n_prep + T − 1 steps — each step two products of [K, R] with â [N, R] (φ(s âᵀ) b̂),
4·K·N·R flops — maps the n_prep input steps into the network (2·K·R·N each) and reads out every
recorded bin: φ(s âᵀ) Dᵀ, 2·K·R·N + 2·K·N·n flops per bin. The hand-derived backward pass
and autograd's cost about twice the forward products, so an iteration is ≈ 3 × the forward
count (the forward count is tested against torch's FlopCounterMode). Element-wise work (φ, the
loss, masks) is left out: the count is the matmul work a GEMM peak could do, so a share of
that peak says how close a fit comes to it.
"""

from __future__ import annotations


def flops_per_iteration(n_bins: int, n_trials: int, n_units: int, n_rec: int, rank: int, *,
                        n_prep: int = 5) -> float:
    """Matmul flops of one fit iteration (module docstring) for data [n_bins, n_trials,
    n_units], a fitted network of ``n_rec`` neurons and ``rank`` components."""
    T, K, n, N, R = n_bins, n_trials, n_units, n_rec, rank
    steps = n_prep + T - 1
    forward = (2 * K * K * R + steps * 4 * K * N * R + n_prep * 2 * K * R * N
               + T * (2 * K * R * N + 2 * K * N * n))
    return 3.0 * forward
