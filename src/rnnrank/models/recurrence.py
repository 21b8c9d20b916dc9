"""The recurrence operator J of the rate step: dense W, or factorised Σ_r c_r a_r b_rᵀ.

Every place that applies the recurrent weights — the step, the fast unroll, the BPTT adjoint,
the one-step Jacobian (Lyapunov exponents, flossing, eligibility traces) — goes through the four
functions here, so a low-tensor-rank recurrence (Pellegrino et al. 2023) reuses the same dynamics
code as a dense one without ever building its N×N matrix per trial:

    apply(J, r)      = r Jᵀ              the recurrent input J φ(x), batched      [E, B, N]
    apply_t(J, λ)    = λ J               the adjoint (transpose) product         [E, B, N]
    as_dense(J)      = J                 [E, N, N] (dense, or factors shared by the batch)
                                         or [E, B, N, N] (per-trial factors)
    apply_cols(J, V) = J V               on k column vectors V [E, B, N, k] (Jacobian products)

A dense operator is the plain tensor ``W [E, N, N]``. A factorised one is a ``Factorised``
(a [E, N, R] postsynaptic, b [E, N, R] presynaptic, c [E, R] shared by the batch or [E, B, R] one
per trial): J = a diag(c) bᵀ, applied as a (c ⊙ (bᵀ r)) — O(N·R) per trial and step.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class Factorised(NamedTuple):
    """J = Σ_r c_r a_r b_rᵀ, with the batch of trials possibly carrying its own c.

    Attributes:
        a: [E, N, R] postsynaptic directions (columns).
        b: [E, N, R] presynaptic directions.
        c: [E, R] (one J per member) or [E, B, R] (one J per trial).
    """

    a: Tensor
    b: Tensor
    c: Tensor

    @property
    def shape(self) -> tuple[int, int, int]:
        """(E, N, N), like the dense operator it stands for."""
        E, N, _ = self.a.shape
        return (E, N, N)

    @property
    def dtype(self) -> torch.dtype:
        return self.a.dtype

    @property
    def device(self) -> torch.device:
        return self.a.device


Recurrence = Tensor | Factorised


def _trial_c(c: Tensor) -> Tensor:
    """c as [E, B or 1, R] so that it broadcasts over the batch."""
    return c if c.dim() == 3 else c[:, None, :]


def apply(J: Recurrence, r: Tensor) -> Tensor:
    """J r for rates r [E, B, N] → [E, B, N]."""
    if isinstance(J, Factorised):
        return torch.bmm(torch.bmm(r, J.b) * _trial_c(J.c), J.a.transpose(1, 2))
    return torch.bmm(r, J.transpose(1, 2))


def apply_t(J: Recurrence, lam: Tensor) -> Tensor:
    """Jᵀ λ for adjoints λ [E, B, N] → [E, B, N] (row vectors times J)."""
    if isinstance(J, Factorised):
        return torch.bmm(torch.bmm(lam, J.a) * _trial_c(J.c), J.b.transpose(1, 2))
    return torch.bmm(lam, J)


def apply_cols(J: Recurrence, V: Tensor) -> Tensor:
    """J V for k column vectors V [E, B, N, k] → [E, B, N, k]."""
    if isinstance(J, Factorised):
        proj = torch.einsum("enr,ebnk->ebrk", J.b, V) * _trial_c(J.c)[..., None]
        return torch.einsum("enr,ebrk->ebnk", J.a, proj)
    return torch.einsum("enm,ebmk->ebnk", J, V)


def as_dense(J: Recurrence) -> Tensor:
    """The dense matrix: [E, N, N], or [E, B, N, N] when a factorised J has per-trial c."""
    if isinstance(J, Factorised):
        if J.c.dim() == 3:
            return torch.einsum("enr,ebr,emr->ebnm", J.a, J.c, J.b)
        return torch.einsum("enr,er,emr->enm", J.a, J.c, J.b)
    return J


def accumulate_(out: Tensor, J: Recurrence, v: Tensor, *, alpha: float,
                transpose: bool = False) -> Tensor:
    """out += α J v (``transpose``: α Jᵀ v) in place, for v [E, B, N]; the hot loops' form.

    A dense J whose transpose is contiguous in memory (see ``for_loop``) costs one ``baddbmm_``.
    """
    if isinstance(J, Factorised):
        return out.add_(apply_t(J, v) if transpose else apply(J, v), alpha=alpha)
    return out.baddbmm_(v, J if transpose else J.transpose(1, 2), alpha=alpha)


def for_loop(J: Recurrence) -> Recurrence:
    """J laid out for repeated ``accumulate_`` (dense: Jᵀ made contiguous once; same values)."""
    if isinstance(J, Factorised):
        return J
    return J.transpose(1, 2).contiguous().transpose(1, 2)
