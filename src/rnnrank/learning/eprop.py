"""e-prop for leaky rate units (Bellec et al. 2020, Nat. Commun. 11:3625), in rnnrank's x-form.

Derivation of the traces for the step of DESIGN §4 (α = dt/τ, κ = 1 − α, r = φ(x))::

    x[t+1] = κ x[t] + α (W r[t] + U u[t] + b),      y[t] = V r[t+1]

e-prop keeps, of the total derivative dx[t+1]/dθ, only the path through a unit's own state —
it drops every path through the recurrent input W r[t] (the autograd equivalent: the recurrent
presynaptic rate r[t] detached, as in the Liu lab's and IGITUGraz's reference codes). For a
synapse W_ji the hidden state's own derivative is ∂x_j[t+1]/∂x_j[t] = κ (the recurrent
self-connection W_jj r_j is a recurrent path too), so the eligibility vector obeys

    ε_ji[t+1] = ∂x_j[t+1]/∂W_ji = κ ε_ji[t] + α r_i[t],        ε[0] = 0.

It does not depend on j: one presynaptic low-pass filter ε̄_i per trial, of z[t] = [r[t], u[t], 1],
serves W, U and b at once (ε̄ of the constant 1 is b's trace). The output y[t] = V r[t+1] reads
x[t+1] through φ, so the eligibility trace and the learning signal of state x[k] are

    e_ji[k] = φ′(x_j[k]) ε̄_i[k],       L_j[k] = Σ_o B_jo ∂L/∂y_o[k−1],        k = 1 … T

and ∂L/∂W_ji ≈ Σ_k Σ_trials L_j[k] e_ji[k] — factorised: G = Σ_k (φ′(x[k]) ⊙ L[k]) ε̄[k]ᵀ,
computed chunk by chunk as one matrix product over (time × trials), never an N×N trace.
B = Vᵀ (``feedback="symmetric"``: the exact output path) or a fixed random matrix
(``"random"``, N(0, 1/N), saved in the rule's state). The readout gets its exact local gradient
Σ_k e[k−1] r[k]ᵀ; a trainable x0 gets Σ_k κ^k L[k] (its own trace, κ^k).

Exactness: at W = 0 there is no recurrent path to drop, and symmetric e-prop is BPTT.
Memory: the traces [E, B, N + I + 1] and one chunk of states; nothing grows with T (the
output error, [T, E, B, O], comes from a first chunked pass: see ``online``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..models.rate_rnn import RateRNN
from . import online
from .rules import register_rule


@torch.no_grad()
def eprop(
    model: RateRNN,
    inputs: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    feedback: Tensor,
    *,
    noise: Tensor | None = None,
    chunk: int = online.DEFAULT_CHUNK,
) -> tuple[Tensor, dict[str, Tensor], Tensor]:
    """Loss, e-prop gradient estimates and outputs of a ``RateRNN`` on one batch.

    Args:
        model: the network (single or ensemble).
        inputs: [T, B, I] or [T, E, B, I].
        loss_fn: outputs [T, E, B, O] → loss per member [E] (differentiable).
        feedback: B [E, N, O] (Vᵀ for symmetric e-prop).
        noise: standard normal draws [T, E, B, N] when the model is noisy.
        chunk: time steps per chunk (memory of one chunk of states; the result is the same).

    Returns:
        (loss [E], estimates named like the model's trainable parameters in their shapes,
        outputs [T, E, B, O]).
    """
    params = model.params()
    inputs = inputs.to(dtype=params.W.dtype, device=params.W.device)
    loss, error, outputs = online.loss_and_error(model, inputs, loss_fn, noise, chunk)
    alpha, kappa, phi = model.alpha, 1.0 - model.alpha, model.phi
    E, N = params.W.shape[0], params.W.shape[-1]
    Bt = inputs.shape[-2]
    wanted = {name for name, p in model.named_parameters() if p.requires_grad}
    M = N + params.U.shape[-1] + 1
    eps = inputs.new_zeros(E, Bt, M)  # ε̄[t0] carried between chunks
    G = inputs.new_zeros(E, N, M)
    GV = torch.zeros_like(params.V)
    gx0 = inputs.new_zeros(E, N)
    for t0, states, rates in online.chunks(params, inputs, alpha=alpha, phi=phi, noise=noise,
                                           noise_std=model.config.noise, chunk=chunk):
        C = states.shape[0] - 1
        # ε̄[t+1] = κ ε̄[t] + α z[t]
        z = online.presynaptic(rates[:-1], inputs[t0:t0 + C], E)
        z = online.filter_forward(z, eps, kappa, alpha)  # z[c] → ε̄[t0 + c + 1], one product
        eps = z[C - 1].clone()
        err = error[t0:t0 + C]
        L = online.learning_signal(err, feedback).mul_(phi.df(states[1:], rates[1:]))
        flat_L = L.permute(1, 0, 2, 3).reshape(E, C * Bt, N)
        G.baddbmm_(flat_L.transpose(1, 2), z.permute(1, 0, 2, 3).reshape(E, C * Bt, M))
        if "V" in wanted:
            GV += online.readout_gradient(err, rates[1:])
        if "x0" in wanted:
            decay = kappa ** torch.arange(t0 + 1, t0 + C + 1, dtype=L.dtype, device=L.device)
            gx0 += torch.einsum("c,cebn->en", decay, L)
    return loss, online.named_gradients(model, G, wanted, V=GV, x0=gx0), outputs


@register_rule("eprop")
class EProp(online.FeedbackRule):
    """e-prop (see module docstring).

    Args:
        feedback: ``"symmetric"`` (B = Vᵀ, default) or ``"random"`` (fixed B ~ N(0, 1/N)).
        chunk: time steps per chunk of the online pass (memory only; same numbers).
    """

    default_feedback = "symmetric"

    estimate = staticmethod(eprop)
