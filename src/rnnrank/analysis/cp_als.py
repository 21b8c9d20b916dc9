"""Alternating least squares for a 3-way CP model, with extrapolation and missing data.

Model (Carroll & Chang 1970; Harshman 1970), for a tensor ``X [I0, I1, I2]``::

    X[i, j, k] ≈ Σ_r F0[i, r] F1[j, r] F2[k, r]

One ALS sweep solves for each factor with the other two fixed,
``F0 = M0 (G1 * G2)⁻¹`` where ``M0 = X_(0) (F2 ⊙ F1)`` is the MTTKRP and ``Gn = Fnᵀ Fn``.
The MTTKRP is never formed through the Khatri–Rao matrix: ``T = X ×₂ F2 [I0, I1, R]`` is one
matrix product on a view of ``X`` and serves the modes 0 *and* 1 (``M0 = Σ_j T[:, j] F1[j]``,
``M1 = Σ_i T[i] F0[i]``); mode 2 uses ``U = F0ᵀ X_(0) [R, I1, I2]``. A sweep therefore costs
two passes over ``X`` (``2 I0 I1 I2 R`` multiply-adds) and ``O((I0 I1 + I1 I2) R)`` extra memory.

The fit is computed without reconstructing ``X̂``:
``‖X − X̂‖² = ‖X‖² − 2 ⟨M2, F2⟩ + Σ (G0 * G1 * G2)``.

Acceleration: after each sweep from ``P`` to ``F`` the point ``F + β (F − P)`` is tried
(extrapolation with an adaptive step, as in Ang & Gillis 2019 for NMF). Its error comes out of
the ``T`` that the next sweep needs anyway, so an accepted step is free; it is accepted only if
its error is lower, so the recorded error history never increases.

Missing data (``mask``, True = observed) is handled by expectation–maximisation: each sweep runs
on ``where(mask, X, X̂)``; the observed-entry error then never increases either.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["ALSResult", "als", "cp_reconstruct"]

# Extrapolation schedule (Ang & Gillis 2019, "Accelerating NMF algorithms using extrapolation"):
# on success the step grows by _GROW (its cap by _CAP_GROW); on failure the cap drops to the
# failed step and the step shrinks by _SHRINK.
_BETA0, _GROW, _CAP_GROW, _SHRINK, _BETA_MAX = 0.5, 1.3, 1.05, 2.0, 4.0


@dataclass(frozen=True)
class ALSResult:
    """Output of :func:`als`: unnormalised ``factors`` (F0, F1 unit columns; F2 carries the
    scale), ``errors`` = relative error after each accepted iteration (index 0 = start)."""

    factors: tuple[Tensor, Tensor, Tensor]
    errors: list[float]
    n_iter: int
    converged: bool


def cp_reconstruct(factors: tuple[Tensor, Tensor, Tensor] | list[Tensor]) -> Tensor:
    """``X̂[i, j, k] = Σ_r F0[i, r] F1[j, r] F2[k, r]`` as a dense ``[I0, I1, I2]`` tensor."""
    f0, f1, f2 = factors
    left = (f0[:, None, :] * f1[None, :, :]).reshape(-1, f0.shape[1])  # [I0*I1, R]
    return (left @ f2.T).reshape(f0.shape[0], f1.shape[0], f2.shape[0])


def _solve(mttkrp: Tensor, gram: Tensor) -> Tensor:
    """Least squares ``M G⁻¹`` with a ridge of a few ulps of ``G``'s mean diagonal."""
    eps = torch.finfo(gram.dtype).eps
    ridge = 10 * eps * gram.diagonal().mean().clamp_min(eps)
    eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
    return torch.linalg.solve(gram + ridge * eye, mttkrp.T).T


def _unit_columns(f: Tensor) -> Tensor:
    return f / f.norm(dim=0).clamp_min(torch.finfo(f.dtype).tiny)


class _Problem:
    """The data side of one ALS run: evaluates points and runs sweeps."""

    def __init__(self, x: Tensor, mask: Tensor | None):
        self.x, self.mask = x, mask
        self.norm_sq = float((x.double() ** 2).sum())  # x is zero at unobserved entries
        self.floor = 30 * torch.finfo(x.dtype).eps ** 0.5  # below this, the cheap error is noise

    def evaluate(self, f: list[Tensor]) -> tuple[float, tuple]:
        """Relative error of ``f`` and what the next sweep needs (data, ``T``, ``M0``)."""
        data = self.x
        if self.mask is not None:
            xhat = cp_reconstruct(f)
            data = torch.where(self.mask, self.x, xhat)
            err_sq = float(((self.x - xhat)[self.mask].double() ** 2).sum())
        i0, i1, i2 = data.shape
        t = (data.reshape(i0 * i1, i2) @ f[2]).reshape(i0, i1, -1)
        m0 = torch.einsum("ijr,jr->ir", t, f[1])
        if self.mask is None:
            grams = [g.T @ g for g in f]
            err_sq = self._cheap_err_sq(float((m0 * f[0]).sum()), grams, f)
        return (max(err_sq, 0.0) / max(self.norm_sq, 1e-300)) ** 0.5, (data, t, m0)

    def _cheap_err_sq(self, inner: float, grams: list[Tensor], f: list[Tensor]) -> float:
        err_sq = self.norm_sq - 2 * inner + float((grams[0] * grams[1] * grams[2]).sum())
        if err_sq < (self.floor**2) * self.norm_sq:  # cancellation: fall back to the exact sum
            err_sq = float(((self.x - cp_reconstruct(f)).double() ** 2).sum())
        return err_sq

    def sweep(self, f: list[Tensor], aux: tuple) -> tuple[list[Tensor], float | None]:
        """One ALS sweep from ``f``; returns new factors and (dense only) their error."""
        data, t, m0 = aux
        g1, g2 = f[1].T @ f[1], f[2].T @ f[2]
        f0 = _unit_columns(_solve(m0, g1 * g2))
        g0 = f0.T @ f0
        f1 = _unit_columns(_solve(torch.einsum("ijr,ir->jr", t, f0), g0 * g2))
        g1 = f1.T @ f1
        i0, i1, i2 = data.shape
        u = (f0.T @ data.reshape(i0, i1 * i2)).reshape(-1, i1, i2)  # [R, I1, I2]
        m2 = torch.einsum("rjk,jr->kr", u, f1)
        f2 = _solve(m2, g0 * g1)
        new = [f0, f1, f2]
        if self.mask is not None:
            return new, None
        err_sq = self._cheap_err_sq(float((m2 * f2).sum()), [g0, g1, f2.T @ f2], new)
        return new, (max(err_sq, 0.0) / max(self.norm_sq, 1e-300)) ** 0.5


def als(
    x: Tensor,
    factors: list[Tensor],
    *,
    tol: float = 1e-6,
    max_iter: int = 500,
    mask: Tensor | None = None,
    extrapolate: bool = True,
) -> ALSResult:
    """Run CP-ALS on ``x [I0, I1, I2]`` from ``factors`` ``[F0 [I0,R], F1 [I1,R], F2 [I2,R]]``.

    ``x`` must be zero where ``mask`` is False. Stops when the relative error drops by less
    than ``tol`` times itself in one iteration, or after ``max_iter`` sweeps.
    """
    problem = _Problem(x, mask)
    f = [factor.clone() for factor in factors]
    err, aux = problem.evaluate(f)
    errors, beta, beta_cap = [err], _BETA0, 1.0
    converged, n_iter = False, 0
    for n_iter in range(1, max_iter + 1):  # noqa: B007 - n_iter is reported after the loop
        new, err_new = problem.sweep(f, aux)
        reference = err if err_new is None else err_new
        accepted = False
        if extrapolate:
            trial = [n + beta * (n - p) for n, p in zip(new, f, strict=True)]
            err_trial, aux_trial = problem.evaluate(trial)
            accepted = err_trial < reference
        if accepted:
            f, err_next, aux = trial, err_trial, aux_trial
            beta, beta_cap = min(beta_cap, _GROW * beta), min(_BETA_MAX, _CAP_GROW * beta_cap)
        else:
            if extrapolate:
                beta_cap, beta = beta, beta / _SHRINK
            f = new
            err_next, aux = problem.evaluate(f)
        decrease = err - err_next
        err = err_next
        errors.append(err)
        if decrease <= tol * err or err <= problem.floor * 1e-2:
            converged = True
            break
    return ALSResult(factors=(f[0], f[1], f[2]), errors=errors, n_iter=n_iter, converged=converged)
