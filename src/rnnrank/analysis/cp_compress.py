"""Randomised sequentially-truncated HOSVD: compression of a 3-way tensor, and the SVD init.

For ``X [I0, I1, I2]`` it finds orthonormal bases ``Qn [In, Ln]`` of the leading column space of
each unfolding ``X_(n)`` with a randomised range finder (Halko, Martinsson & Tropp 2011, Alg. 4.4:
``Y = (X_(n) X_(n)ᵀ)^q X_(n) Ω``, ``Q = qr(Y)``) and projects ``X`` onto it one mode at a time
(Vannieuwenhoven, Vandebril & Meerbergen 2012), so that only the first mode touches the full
tensor::

    core = X ×₀ Q0ᵀ ×₁ Q1ᵀ ×₂ Q2ᵀ            [L0, L1, L2]
    ‖X − core ×₀ Q0 ×₁ Q1 ×₂ Q2‖² = ‖X‖² − ‖core‖²

A CP model of ``core`` with factors ``Fn`` is a CP model of the projection of ``X`` with factors
``Qn Fn`` (Bro & Andersson 1998, "Improving the speed of multiway algorithms, part II").
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["compress", "svd_init"]


def _apply(x: Tensor, mode: int, omega: Tensor) -> Tensor:
    """``X_(mode) Ω`` for ``Ω [prod(other dims), L]`` (other dims in increasing order)."""
    i0, i1, i2 = x.shape
    if mode == 0:
        return x.reshape(i0, i1 * i2) @ omega
    if mode == 1:
        return torch.bmm(x, omega.reshape(i0, i2, -1)).sum(0)
    return x.reshape(i0 * i1, i2).T @ omega


def _apply_t(x: Tensor, mode: int, q: Tensor) -> Tensor:
    """``X_(mode)ᵀ Q`` for ``Q [I_mode, L]``, shaped ``[prod(other dims), L]``."""
    i0, i1, i2 = x.shape
    if mode == 0:
        return x.reshape(i0, i1 * i2).T @ q
    if mode == 1:
        return (x.transpose(1, 2) @ q).reshape(i0 * i2, -1)
    return x.reshape(i0 * i1, i2) @ q


def _range_basis(x: Tensor, mode: int, size: int, generator: torch.Generator, power_iters: int):
    """Orthonormal ``[I_mode, size]`` basis of the leading column space of ``X_(mode)``."""
    dim = x.shape[mode]
    if size >= dim:
        return torch.eye(dim, dtype=x.dtype, device=x.device)
    rest = x.numel() // dim
    omega = torch.randn(rest, size, generator=generator, dtype=x.dtype, device="cpu").to(x.device)
    y = _apply(x, mode, omega)
    for _ in range(power_iters):
        q = torch.linalg.qr(y).Q
        y = _apply(x, mode, _apply_t(x, mode, q))
    return torch.linalg.qr(y).Q


def _project(x: Tensor, mode: int, basis: Tensor) -> Tensor:
    """``X ×_mode basisᵀ``."""
    if mode == 0:
        return (basis.T @ x.reshape(x.shape[0], -1)).reshape(-1, x.shape[1], x.shape[2])
    if mode == 1:
        return basis.T @ x
    return x @ basis


def compress(
    x: Tensor, sizes: tuple[int, int, int], generator: torch.Generator, *, power_iters: int = 1
) -> tuple[Tensor, list[Tensor]]:
    """Core ``[L0, L1, L2]`` and bases ``[Qn [In, Ln]]`` with ``X ≈ core ×₀ Q0 ×₁ Q1 ×₂ Q2``.

    Mode 0 is compressed first, on views of ``x`` (no copy of the full tensor).
    """
    core, bases = x, []
    for mode in range(3):
        basis = _range_basis(core, mode, sizes[mode], generator, power_iters)
        bases.append(basis)
        if basis.shape[1] < core.shape[mode]:
            core = _project(core, mode, basis)
    return core, bases


def svd_init(
    x: Tensor, rank: int, generator: torch.Generator, *, oversample: int = 10
) -> list[Tensor]:
    """HOSVD-style init: the leading ``rank`` left singular vectors of each unfolding.

    Computed on a randomised compression to ``rank + oversample`` per mode; modes with fewer
    than ``rank`` dimensions are completed with Gaussian columns.
    """
    sizes = tuple(min(d, rank + oversample) for d in x.shape)
    core, bases = compress(x, sizes, generator, power_iters=0)
    factors = []
    for mode in range(3):
        unfolded = core.movedim(mode, 0).reshape(core.shape[mode], -1)
        left = torch.linalg.svd(unfolded, full_matrices=False).U[:, :rank]
        factor = bases[mode] @ left
        if factor.shape[1] < rank:
            extra = torch.randn(
                x.shape[mode], rank - factor.shape[1], generator=generator, dtype=x.dtype
            ).to(x.device)
            factor = torch.cat([factor, extra], dim=1)
        factors.append(factor)
    return factors
