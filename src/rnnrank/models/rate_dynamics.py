"""The leaky rate network as pure functions of its parameters: one step, and unrolls over time.

Equation (docs/concepts.md), Euler-discretised with α = dt/τ::

    x[t+1] = (1 − α) x[t] + α (W φ(x[t]) + U u[t] + b) + σ √α ξ[t],     ξ[t] ~ N(0, I)
    y[t]   = V φ(x[t+1])                                                (t = 0 … T−1)

so the output at time t is read from the state that has just taken in u[t].

Shapes (ensemble layout; a single network is an ensemble of one, E = 1):
    W [E, N, N], U [E, N, I], V [E, O, N], b [E, N], x0 [E, N]
    inputs [T, B, I] (shared by all members) or [T, E, B, I] (one batch per member)
    states [T+1, E, B, N] (states[0] = x0), outputs [T, E, B, O], noise ξ [T, E, B, N]

``step`` is the unit of computation (learning rules, Lyapunov exponents and fitting reuse it);
``jacobian``/``jvp``/``vjp`` are its derivative with respect to the state,

    ∂x[t+1]/∂x[t] = (1 − α) I + α W diag(φ′(x[t])),

``unroll`` applies the step over time with autograd; ``unroll_states`` is the graph-free fast path
used for evaluation and by the hand-derived backward pass, and gives the same numbers.

``W`` may be a dense tensor [E, N, N] or a ``recurrence.Factorised`` J = Σ_r c_r a_r b_rᵀ (with
one c per member or per trial); every function here applies it through ``recurrence``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from ..nonlinearities import Nonlinearity
from . import recurrence as rec
from .recurrence import Recurrence


class RateParams(NamedTuple):
    """Parameters of an ensemble of rate networks (see module docstring for shapes)."""

    W: Recurrence
    U: Tensor
    V: Tensor
    b: Tensor
    x0: Tensor


def input_drive(params: RateParams, inputs: Tensor) -> Tensor:
    """U u[t] + b for all t at once: [T, B, I] or [T, E, B, I] → [T, E, B, N].

    One large matrix product instead of T small ones.
    """
    U, b = params.U, params.b
    E, N, n_in = U.shape
    if inputs.dim() == 3:
        T, B, _ = inputs.shape
        flat = inputs.reshape(T * B, n_in) @ U.reshape(E * N, n_in).T  # [T·B, E·N]
        drive = flat.reshape(T, B, E, N).permute(0, 2, 1, 3)
    elif inputs.dim() == 4:
        drive = torch.einsum("tebi,eni->tebn", inputs, U)
    else:
        raise ValueError(
            f"inputs must be [T, B, I] or [T, E, B, I], got shape {tuple(inputs.shape)}"
        )
    return drive + b[None, :, None, :]


def step(
    params: RateParams,
    x: Tensor,
    u: Tensor,
    *,
    alpha: float,
    phi: Nonlinearity,
    noise: Tensor | None = None,
    noise_std: float = 0.0,
) -> Tensor:
    """One Euler step of the leaky rate network.

    Args:
        params: ensemble parameters.
        x: state [E, B, N].
        u: input [B, I] (shared) or [E, B, I].
        alpha: dt/τ.
        phi: the nonlinearity.
        noise: standard normal draws ξ [E, B, N], scaled here by σ√α; ignored when σ = 0.
        noise_std: σ.

    Returns:
        the next state x(t+1), [E, B, N].
    """
    recurrent = rec.apply(params.W, phi.f(x))
    if u.dim() == 2:
        inp = torch.einsum("bi,eni->ebn", u, params.U)
    else:
        inp = torch.bmm(u, params.U.transpose(1, 2))
    x_next = (1.0 - alpha) * x + alpha * (recurrent + inp + params.b[:, None, :])
    if noise is not None and noise_std > 0.0:
        x_next = x_next + noise_std * math.sqrt(alpha) * noise
    return x_next


def jacobian(params: RateParams, x: Tensor, *, alpha: float, phi: Nonlinearity) -> Tensor:
    """∂step/∂x = (1 − α) I + α W diag(φ′(x)) at states x [E, B, N] → [E, B, N, N].

    Independent of the input, the bias and the noise (they enter additively).
    """
    d = phi.df(x, phi.f(x))  # [E, B, N]
    W = rec.as_dense(params.W)
    W = W[:, None] if W.dim() == 3 else W  # [E, B or 1, N, N]
    J = alpha * W * d[:, :, None, :]
    eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    return J + (1.0 - alpha) * eye


def jvp(params: RateParams, x: Tensor, v: Tensor, *, alpha: float, phi: Nonlinearity) -> Tensor:
    """Jacobian-vector products (1 − α) v + α W (φ′(x) ⊙ v) for k columns v [E, B, N, k].

    What the QR (Benettin) method of Lyapunov exponents and forward-mode traces need; never
    builds the N×N Jacobian.
    """
    d = phi.df(x, phi.f(x))[..., None]
    return (1.0 - alpha) * v + alpha * rec.apply_cols(params.W, d * v)


def vjp(params: RateParams, x: Tensor, lam: Tensor, *, alpha: float,
        phi: Nonlinearity) -> Tensor:
    """Vector-Jacobian products λ ∂step/∂x = (1 − α) λ + α φ′(x) ⊙ (λ W) for λ [E, B, N]."""
    d = phi.df(x, phi.f(x))
    return (1.0 - alpha) * lam + alpha * d * rec.apply_t(params.W, lam)


def initial_state(params: RateParams, batch_size: int) -> Tensor:
    """x0 broadcast over the batch: [E, N] → [E, B, N]."""
    return params.x0[:, None, :].expand(-1, batch_size, -1)


def unroll(
    params: RateParams,
    inputs: Tensor,
    *,
    alpha: float,
    phi: Nonlinearity,
    noise: Tensor | None = None,
    noise_std: float = 0.0,
    detach_every: int | None = None,
) -> Tensor:
    """Apply ``step`` over time with autograd: states [T+1, E, B, N].

    ``detach_every=k`` cuts the gradient through the state before steps k, 2k, … (truncated
    BPTT in windows of k steps). This is the reference path; ``unroll_states`` is faster.
    """
    T, B = inputs.shape[0], inputs.shape[-2]
    x = initial_state(params, B)
    states = [x]
    for t in range(T):
        if detach_every and t > 0 and t % detach_every == 0:
            x = x.detach()
        x = step(params, x, inputs[t], alpha=alpha, phi=phi,
                 noise=None if noise is None else noise[t], noise_std=noise_std)
        states.append(x)
    return torch.stack(states)


@torch.no_grad()
def unroll_states(
    params: RateParams,
    inputs: Tensor,
    *,
    alpha: float,
    phi: Nonlinearity,
    noise: Tensor | None = None,
    noise_std: float = 0.0,
    out: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor]:
    """Graph-free unroll into preallocated buffers: (states, rates), each [T+1, E, B, N].

    ``out`` may pass the two buffers to reuse (every entry is overwritten): large fresh
    allocations cost page faults comparable to the whole forward pass at these sizes.

    The input drive of all steps is one matrix product; each step is then an in-place add,
    an in-place ``baddbmm`` and one pointwise φ — no allocation, no copy.
    """
    T, B = inputs.shape[0], inputs.shape[-2]
    E, N, _ = params.W.shape
    if out is None:
        states = torch.empty(T + 1, E, B, N, dtype=params.U.dtype, device=params.U.device)
        rates = torch.empty_like(states)
    else:
        states, rates = out
    states[0] = params.x0[:, None, :]
    phi.apply_into(states[0], rates[0])
    fill_states_(states, rates, params, inputs, alpha=alpha, phi=phi, noise=noise,
                 noise_std=noise_std)
    return states, rates


@torch.no_grad()
def fill_states_(states: Tensor, rates: Tensor, params: RateParams, inputs: Tensor, *,
                 alpha: float, phi: Nonlinearity, noise: Tensor | None = None,
                 noise_std: float = 0.0, J=None) -> None:
    """The Euler update, in place: from states[0] and rates[0] = φ(states[0]), fill
    states[1 .. T] and rates[1 .. T] ([T+1, E, B, N] buffers) for inputs [T, B, I] or
    [T, E, B, I]. ``unroll_states`` and the online rules' chunks (``learning/online.py``) both
    step with it; ``J`` may pass ``recurrence.for_loop(params.W)`` made once.
    """
    T, B = inputs.shape[0], inputs.shape[-2]
    E, N, _ = params.W.shape
    # states[t+1] starts as α(U u[t] + b) (+ noise) and is completed in place, so that no
    # step copies a buffer: x[t+1] = states[t+1] + (1−α) x[t] + α φ(x[t]) Wᵀ.
    blocks = member_blocks(states[1:T + 1])
    if blocks is not None:  # one fused product per member, written in place
        shared = inputs.reshape(T * B, -1) if inputs.dim() == 3 else None
        for e, block in enumerate(blocks):
            u = shared if shared is not None else inputs[:, e].reshape(T * B, -1)
            torch.addmm(params.b[e], u, params.U[e].T, beta=alpha, alpha=alpha, out=block)
    else:
        torch.mul(input_drive(params, inputs), alpha, out=states[1:T + 1])
    if noise is not None and noise_std > 0.0:
        states[1:T + 1].add_(noise, alpha=noise_std * math.sqrt(alpha))
    J = rec.for_loop(params.W) if J is None else J
    # Views made once: per-step indexing costs as much as a small kernel at these sizes.
    xs, rs = states.unbind(0), rates.unbind(0)
    leak = 1.0 - alpha
    for t in range(T):
        rec.accumulate_(xs[t + 1].add_(xs[t], alpha=leak), J, rs[t], alpha=alpha)
        phi.apply_into(xs[t + 1], rs[t + 1])


def member_blocks(buffer: Tensor) -> list[Tensor] | None:
    """Each member's [T·B, N] matrix of a [T, E, B, N] buffer, as views — or None when a
    member's block is not contiguous (a time-first buffer with E > 1).

    The hot paths lay their buffers out member-first ([E, T, B, N] in memory, viewed time-first),
    so products over all time steps (the input drive, Vᵀe) are written straight into the buffer
    one member at a time: a [T, E, B, N] temporary instead costs its page faults and a strided
    copy — measured 35 ms of a 72 ms forward pass at E = 8, N = 256, B = 32, T = 100.
    """
    T, E, B, N = buffer.shape
    blocks = [buffer[:, e] for e in range(E)]
    if not all(b.is_contiguous() for b in blocks):
        return None
    return [b.view(T * B, N) for b in blocks]


def readout(params: RateParams, rates: Tensor) -> Tensor:
    """y = V r for rates [..., E, B, N] → outputs [..., E, B, O] (one batched product)."""
    lead = rates.shape[:-3]
    E, B, N = rates.shape[-3:]
    r = rates.reshape(-1, E, B, N).permute(1, 0, 2, 3).reshape(E, -1, N)
    y = torch.bmm(r, params.V.transpose(1, 2))  # [E, L·B, O]
    O = y.shape[-1]
    return y.reshape(E, -1, B, O).permute(1, 0, 2, 3).reshape(*lead, E, B, O)
