"""Fast path of the fit: the unroll in latent coordinates with a hand-derived backward pass.

With inputs and initial states in span{â_r} (``inputs="span"``, the paper's default), the state
of the low-tensor-rank network stays in that span, x_k[j] = â s_k[j], and the rate step
(``rate_dynamics.step`` with J(k) = â diag(c(k)) b̂ᵀ) becomes, for the latent s [K, R]:

    s[j+1] = (1 − α) s[j] + α (c ⊙ h[j] + v[j]),     h[j] = φ(x[j]) b̂ [K, R],  x[j] = s[j] âᵀ

(v[j] = 0 after the preparatory window). The adjoint λ[j] = ∂L/∂s[j], given the gradient g[j]
that flows into s[j] from the readout and the regulariser, obeys, backwards in time,

    λ[J]   = g[J]
    λ[j]   = g[j] + (1 − α) λ[j+1] + α e[j] â,      e[j] = ((λ[j+1] ⊙ c) b̂ᵀ) ⊙ φ′(x[j])   [K, N]

and the parameter gradients are single large products over all steps:

    ∂L/∂c = α Σ_j λ[j+1] ⊙ h[j]       ∂L/∂b̂ = α Σ_j φ(x[j])ᵀ (λ[j+1] ⊙ c)
    ∂L/∂â = α Σ_j e[j]ᵀ s[j]          ∂L/∂v[j] = α λ[j+1]          ∂L/∂s[0] = λ[0]

Each step costs two [K, N] × [N, R] products and a few pointwise operations with no autograd
graph; ``ltr_model.simulate`` (autograd through ``rate_dynamics.step``) is the reference this is
tested against.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..nonlinearities import get_nonlinearity


class LatentUnroll(torch.autograd.Function):
    """s [J+1, K, R] from (s0 [K, R], v [S, K, R], â [N, R], b̂ [N, R], c [K, R])."""

    @staticmethod
    def forward(ctx, s0: Tensor, v: Tensor, a: Tensor, b: Tensor, c: Tensor, alpha: float,
                nonlinearity: str, n_steps: int) -> Tensor:
        phi = get_nonlinearity(nonlinearity)
        K, R = s0.shape
        N = a.shape[0]
        S = v.shape[0]
        s = torch.empty(n_steps + 1, K, R, dtype=s0.dtype)
        rates = torch.empty(n_steps, K, N, dtype=s0.dtype)
        s[0] = s0
        aT = a.T.contiguous()
        leak = 1.0 - alpha
        for j in range(n_steps):
            phi.apply_into(s[j] @ aT, rates[j])
            nxt = (rates[j] @ b).mul_(c)
            if j < S:
                nxt.add_(v[j])
            s[j + 1] = nxt.mul_(alpha).add_(s[j], alpha=leak)
        ctx.save_for_backward(s, rates, a, b, c)
        ctx.alpha, ctx.nonlinearity, ctx.S = alpha, nonlinearity, S
        return s

    @staticmethod
    def backward(ctx, g: Tensor):
        s, rates, a, b, c = ctx.saved_tensors
        alpha, S = ctx.alpha, ctx.S
        phi = get_nonlinearity(ctx.nonlinearity)
        J = rates.shape[0]
        x = s[:-1] @ a.T  # [J, K, N], one product
        dphi = phi.df(x, rates)
        lam_next = torch.empty_like(s[1:])  # λ[j+1] for j = 0..J−1
        e = x  # reuse the buffer: e[j] overwrites x[j] once φ′ is known
        bT = b.T.contiguous()
        leak = 1.0 - alpha
        lam = g[J].clone()
        for j in range(J - 1, -1, -1):
            lam_next[j] = lam
            torch.mul(torch.mm(lam * c, bT), dphi[j], out=e[j])
            lam = g[j] + leak * lam + alpha * (e[j] @ a)
        K, R = s.shape[1:]
        N = a.shape[0]
        flat_l = lam_next.reshape(J * K, R)
        h = rates.reshape(J * K, N) @ b  # [J·K, R]
        grad_c = alpha * (flat_l * h).reshape(J, K, R).sum(0)
        grad_b = alpha * rates.reshape(J * K, N).T @ (flat_l * c.repeat(J, 1))
        grad_a = alpha * e.reshape(J * K, N).T @ s[:-1].reshape(J * K, R)
        grad_v = alpha * lam_next[:S] if S > 0 else torch.zeros(0, K, R, dtype=s.dtype)
        return lam, grad_v, grad_a, grad_b, grad_c, None, None, None


def latent_unroll(s0: Tensor, v: Tensor, a: Tensor, b: Tensor, c: Tensor, *, alpha: float,
                  nonlinearity: str, n_steps: int) -> Tensor:
    """Latent states s [n_steps + 1, K, R] (s[0] = s0) with the hand-derived backward pass."""
    return LatentUnroll.apply(s0, v, a, b, c, alpha, nonlinearity, n_steps)
