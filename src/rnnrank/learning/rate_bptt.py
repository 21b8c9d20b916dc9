"""Exact BPTT for ``RateRNN`` with a hand-derived backward pass (no autograd graph).

Forward (graph-free, ``rate_dynamics.unroll_states``) keeps states x[0..T] and rates r = φ(x).
With y[t] = V r[t+1], the loss L(y) and its output error e[t] = ∂L/∂y[t] (taken by autograd on the
small effector + loss graph only), the adjoint λ[t] = ∂L/∂x[t] obeys, backwards in time,

    λ[T]   = φ′(x[T]) ⊙ Vᵀe[T−1]
    λ[t]   = (1 − α) λ[t+1] + φ′(x[t]) ⊙ (Vᵀe[t−1] + α Wᵀλ[t+1])        0 < t < T
    λ[0]   = (1 − α) λ[1]   + φ′(x[0]) ⊙ (α Wᵀλ[1])

and the gradients are sums over time computed as single large products over [T·B]:

    ∂L/∂W = α Σ_t λ[t+1] r[t]ᵀ      ∂L/∂U = α Σ_t λ[t+1] u[t]ᵀ      ∂L/∂b = α Σ_t λ[t+1]
    ∂L/∂V = Σ_t e[t] r[t+1]ᵀ        ∂L/∂x0 = Σ_batch λ[0]

Truncated BPTT (``truncation=k``) drops the recurrent term of λ[t] for t = k, 2k, … — exactly
what autograd computes when the state is detached before those steps. Additive noise enters
only through the states, so it needs no extra term.

Shapes: states/rates/λ [T+1, E, B, N]; e [T, E, B, O]; gradients in ensemble layout.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..models import rate_dynamics as rd
from ..models.rate_rnn import RateRNN


def output_error(
    outputs: Tensor, loss_fn: Callable[[Tensor], Tensor]
) -> tuple[Tensor, Tensor]:
    """(loss [E], e = ∂(Σ_E loss)/∂outputs) by autograd on the small output graph only."""
    y = outputs.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(y)
        (e,) = torch.autograd.grad(loss.sum(), y)
    return loss.detach(), e


@torch.no_grad()
def adjoint(
    params: rd.RateParams,
    states: Tensor,
    rates: Tensor,
    error: Tensor,
    *,
    alpha: float,
    dphi: Tensor,
    truncation: int | None = None,
) -> Tensor:
    """λ [T+1, E, B, N] by the backward recursion of the module docstring.

    ``dphi`` is φ′(x) for all states [T+1, E, B, N]; ``error`` is e [T, E, B, O].
    """
    T = error.shape[0]
    E, B, O = error.shape[1:]
    N = params.W.shape[-1]
    lam = torch.empty_like(states)
    # Vᵀ e[t−1] for all t at once — one product, written straight into λ[1..T].
    if E == 1:
        torch.mm(error.reshape(T * B, O), params.V[0], out=lam[1:].view(T * B, N))
    else:
        g = torch.bmm(error.permute(1, 0, 2, 3).reshape(E, T * B, O), params.V)
        lam[1:] = g.reshape(E, T, B, N).permute(1, 0, 2, 3)
    lam[T].mul_(dphi[T])
    lam[0].zero_()  # no output is read from x[0]
    W = params.W
    lams, ds = lam.unbind(0), dphi.unbind(0)
    leak = 1.0 - alpha
    for t in range(T - 1, -1, -1):
        if truncation is not None and t > 0 and t % truncation == 0:
            lams[t].mul_(ds[t])  # state detached before step t: no recurrent term
            continue
        # λ[t] = (1−α)λ[t+1] + φ′(x[t]) ⊙ (g[t] + α λ[t+1] W), in place on g[t]
        lams[t].baddbmm_(lams[t + 1], W, alpha=alpha).mul_(ds[t]).add_(lams[t + 1], alpha=leak)
    return lam


@torch.no_grad()
def rate_bptt(
    model: RateRNN,
    inputs: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    *,
    noise: Tensor | None = None,
    truncation: int | None = None,
) -> tuple[Tensor, dict[str, Tensor], Tensor]:
    """Loss, exact gradients and outputs of a ``RateRNN`` on one batch.

    Args:
        model: the network (single or ensemble).
        inputs: [T, B, I] or [T, E, B, I].
        loss_fn: maps outputs [T, E, B, O] to the loss per member [E] (differentiable).
        noise: standard normal draws [T, E, B, N] when the model is noisy.
        truncation: truncated-BPTT window k (None = full BPTT).

    Returns:
        (loss [E], gradients named like ``model``'s parameters in its own shapes, outputs
        [T, E, B, O]). Only parameters with ``requires_grad`` get a gradient.
    """
    params = model.params()
    inputs = inputs.to(dtype=params.W.dtype, device=params.W.device)
    alpha, phi = model.alpha, model.phi
    states, rates = rd.unroll_states(params, inputs, alpha=alpha, phi=phi, noise=noise,
                                     noise_std=model.config.noise)
    outputs = rd.readout(params, rates[1:])
    loss, error = output_error(outputs, loss_fn)
    dphi = phi.df(states, rates)
    lam = adjoint(params, states, rates, error, alpha=alpha, dphi=dphi, truncation=truncation)

    T, E, B, N = lam.shape[0] - 1, *lam.shape[1:]
    post = lam[1:].permute(1, 0, 2, 3).reshape(E, T * B, N)  # λ[t+1]   [E, T·B, N]
    grads: dict[str, Tensor] = {}
    wanted = {name for name, p in model.named_parameters() if p.requires_grad}
    if "W" in wanted:
        pre = rates[:-1].permute(1, 0, 2, 3).reshape(E, T * B, N)
        grads["W"] = torch.bmm(post.transpose(1, 2), pre).mul_(alpha)
    if "U" in wanted:
        if inputs.dim() == 3:
            u = inputs.reshape(1, T * B, -1).expand(E, -1, -1)
        else:
            u = inputs.permute(1, 0, 2, 3).reshape(E, T * B, -1)
        grads["U"] = torch.bmm(post.transpose(1, 2), u).mul_(alpha)
    if "b" in wanted:
        grads["b"] = post.sum(1).mul_(alpha)
    if "V" in wanted:
        O = error.shape[-1]
        err = error.permute(1, 0, 2, 3).reshape(E, T * B, O)
        out_rates = rates[1:].permute(1, 0, 2, 3).reshape(E, T * B, N)
        grads["V"] = torch.bmm(err.transpose(1, 2), out_rates)
    if "x0" in wanted:
        grads["x0"] = lam[0].sum(1)
    if not model.is_ensemble:
        grads = {k: v[0] for k, v in grads.items()}
    return loss, grads, outputs
