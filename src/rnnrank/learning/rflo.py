"""RFLO, random-feedback local online learning (Murray 2019, eLife 8:e43299), in the x-form.

Murray's rate network h ← h + (−h + φ(W h + W_in u))/τ keeps, per synapse, a low-pass filter of
the postsynaptic derivative times the presynaptic rate, p_jk ← (1 − 1/τ) p_jk + φ′(u_j) h_k / τ,
and updates ΔW_jk ∝ Σ_t (B ε_t)_j p_jk with a fixed random B. In rnnrank's step (DESIGN §4,
α = dt/τ, κ = 1 − α) the pre-activation Murray differentiates is the new state
x[t+1] = κ x[t] + α (W r[t] + U u[t] + b) (for α = 1 it is exactly W r[t] + U u[t] + b, and
r[t+1] = φ(x[t+1]) is Murray's h[t+1]), so the trace of synapse (j, i), for the presynaptic
vector z[t] = [r[t], u[t], 1] (one trace for W, U and b, as in the rate-form reference code),
is

    P_ji[t+1] = κ P_ji[t] + α φ′(x_j[t+1]) z_i[t],       P[0] = 0,

and the estimate is G_ji = Σ_k Σ_trials L_j[k] P_ji[k], L[k] = B e[k−1], e = ∂L/∂y (φ′ already
sits inside the trace). Where φ′ is taken differs from e-prop's e_ji[k] = φ′(x_j[k]) ε̄_i[k]
(filter first, derivative after); for α = 1 both are φ′(x_j[k]) z_i[k−1] and RFLO equals e-prop
with the same B. B ~ N(0, 1/O) (Murray's scale) by default, or ``feedback="symmetric"`` (Vᵀ).
The readout learns by its exact local delta rule Σ_k e[k−1] r[k]ᵀ. Murray defines no trace for
a learned initial state x0 (the Liu lab learns one); it gets the own-path estimate e-prop uses,
Σ_k κ^k φ′(x[k]) L[k] (x[k] depends on x0 through its own leak κ^k once the recurrent paths are
dropped — exact at W = 0), with RFLO's feedback B.

Computation, exact and online in memory: P [E, B, N, M] is carried from chunk to chunk (never
per time step in memory). Inside a chunk of steps k = t0+1 … t1, with the backward filter of the
learning signal over the chunk only, L̃[s] = Σ_{k=s}^{t1} κ^{k−s} L[k],

    Σ_k L[k] ⊙ P[k] = κ L̃[t0+1] ⊙ P[t0]  +  α Σ_s (φ′(x[s]) ⊙ L̃[s]) z[s−1]ᵀ
    P[t1] = κ^C P[t0] + α Σ_s κ^{t1−s} φ′(x[s]) z[s−1]ᵀ            (per trial)

— the same sums as the per-step recursion, grouped into matrix products (``chunk=1`` is the
per-step form). Memory does not grow with T.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..models.rate_rnn import RateRNN
from . import online
from .rules import register_rule


@torch.no_grad()
def rflo(
    model: RateRNN,
    inputs: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    feedback: Tensor,
    *,
    noise: Tensor | None = None,
    chunk: int = online.DEFAULT_CHUNK,
) -> tuple[Tensor, dict[str, Tensor], Tensor]:
    """Loss, RFLO gradient estimates and outputs of a ``RateRNN`` on one batch.

    Args are those of ``eprop.eprop`` (feedback B [E, N, O]). A trainable x0 gets e-prop's
    own-path estimate (module docstring). Returns (loss [E], estimates named like the trainable
    parameters, outputs [T, E, B, O]).
    """
    wanted = {name for name, p in model.named_parameters() if p.requires_grad}
    params = model.params()
    inputs = inputs.to(dtype=params.W.dtype, device=params.W.device)
    loss, error, outputs = online.loss_and_error(model, inputs, loss_fn, noise, chunk)
    alpha, kappa, phi = model.alpha, 1.0 - model.alpha, model.phi
    E, N = params.W.shape[0], params.W.shape[-1]
    Bt = inputs.shape[-2]
    M = N + params.U.shape[-1] + 1
    P = inputs.new_zeros(E * Bt, N, M)  # P[t0] per (member, trial)
    G = inputs.new_zeros(E, N, M)
    GV = torch.zeros_like(params.V)
    gx0 = inputs.new_zeros(E, N)
    for t0, states, rates in online.chunks(params, inputs, alpha=alpha, phi=phi, noise=noise,
                                           noise_std=model.config.noise, chunk=chunk):
        C = states.shape[0] - 1
        z = online.presynaptic(rates[:-1], inputs[t0:t0 + C], E)  # z[s−1], [C, E, B, M]
        d = phi.df(states[1:], rates[1:])  # φ′(x[s]), [C, E, B, N]
        err = error[t0:t0 + C]
        L = online.learning_signal(err, feedback).contiguous()
        if "x0" in wanted:  # Σ_k κ^k φ′(x[k]) L[k], summed over trials
            decay0 = kappa ** torch.arange(t0 + 1, t0 + C + 1, dtype=d.dtype, device=d.device)
            gx0 += torch.einsum("c,cebn->en", decay0, d * L)
        Lt = online.filter_backward(L.clone(), kappa)
        # carried trace: κ L̃[t0+1] ⊙ P[t0], summed over trials
        if t0 > 0:
            w = Lt[0].reshape(E * Bt, N, 1) * kappa
            G += (w * P).reshape(E, Bt, N, M).sum(1)
        # within the chunk: α Σ_s (φ′ ⊙ L̃)[s] z[s−1]ᵀ, one product over (time × trials)
        post = (d * Lt).permute(1, 0, 2, 3).reshape(E, C * Bt, N)
        G.baddbmm_(post.transpose(1, 2), z.permute(1, 0, 2, 3).reshape(E, C * Bt, M),
                   alpha=alpha)
        # P[t1] = κ^C P[t0] + α Σ_s κ^{t1−s} φ′(x[s]) z[s−1]ᵀ, one batched product per trial
        decay = kappa ** torch.arange(C - 1, -1, -1, dtype=d.dtype, device=d.device)
        dd = (d * decay[:, None, None, None]).permute(1, 2, 3, 0).reshape(E * Bt, N, C)
        zz = z.permute(1, 2, 0, 3).reshape(E * Bt, C, M)
        P.baddbmm_(dd, zz, beta=kappa ** C, alpha=alpha)
        if "V" in wanted:
            GV += online.readout_gradient(err, rates[1:])
    return loss, online.named_gradients(model, G, wanted, V=GV, x0=gx0), outputs


@register_rule("rflo")
class RFLO(online.FeedbackRule):
    """RFLO (see module docstring).

    Args:
        feedback: ``"random"`` (fixed B ~ N(0, 1/O), default, as in Murray 2019) or
            ``"symmetric"`` (B = Vᵀ).
        chunk: time steps per chunk of the online pass (memory only; same numbers).
    """

    default_feedback = "random"

    def random_std(self, model: RateRNN) -> float:
        return 1.0 / math.sqrt(model.config.n_out)

    estimate = staticmethod(rflo)
