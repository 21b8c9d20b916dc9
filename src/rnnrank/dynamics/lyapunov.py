"""Lyapunov spectra of recurrent networks by the QR (Benettin) method.

Method (Benettin et al. 1980; Engelken, Wolf & Abbott 2023; REFERENCES.md §4): k orthonormal
tangent vectors Q [D, k] are pushed through the one-step Jacobian J_t = ∂F/∂x at the trajectory's
states, and re-orthonormalised every ``renorm_every`` steps,

    Q ← J_t Q;      Q, R = qr(Q);      S += log |diag R|;      λ = S / steps,

so λ_1 ≥ … ≥ λ_k are the k leading exponents, in nats per step (``per="step"``) or per unit
time (``per="time"``: divided by the model's dt). For the leaky rate network
J_t = (1 − α) I + α W diag(φ′(x_t)) is applied as a product with Q (never built); any other model
with a ``step`` gets its tangent products by forward-mode autograd (``system.as_system``).

A chaotic network is measured on its attractor: with ``x0=None`` the states start from a seeded
random draw, and the first ``warmup`` steps (which also align Q) are discarded. Several initial
conditions and every ensemble member run at once, as one batch. Liu, Zhang & Liu (2024) compare
λ_max before and after training; gradient flossing (Engelken 2023, ``learning.flossing``)
regularises these exponents with the differentiable ``benettin``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .system import System, as_system

PER = ("step", "time")


class LyapunovSpectrum(NamedTuple):
    """Result of ``lyapunov_spectrum(..., full=True)``.

    Attributes:
        exponents: [k] (single network) or [E, k], mean over initial conditions, sorted
            descending; in ``unit``.
        stderr: same shape: standard error of the exponents over windows × initial conditions
            (the spread of the windows' estimates / √count): the convergence estimate.
        per_trajectory: [E, B, k], each initial condition's estimate.
        windows: [n_windows, E, B, k], the estimate of each window of the measurement.
        unit: ``"nats/step"`` or ``"nats/time"`` (per unit of the model's τ and dt).
    """

    exponents: Tensor
    stderr: Tensor
    per_trajectory: Tensor
    windows: Tensor
    unit: str


def benettin(system: System, x: Tensor, Q: Tensor, inputs, steps: int, *,
             renorm_every: int = 1, windows: int = 1, t0: int = 0
             ) -> tuple[Tensor, Tensor, Tensor]:
    """Run states and tangent vectors ``steps`` steps, summing log|diag R| per window.

    Differentiable when the system's parameters carry a graph (QR every step keeps the
    gradient well conditioned; keep the window short). Args: states x [E, B, D], orthonormal
    Q [E, B, D, k], ``inputs(t) -> u [B, I]`` at absolute step t = t0 + s, ``windows`` equal
    parts of ``steps`` to sum separately.

    Returns:
        (x, Q, sums [windows, E, B, k]): log-stretch of each window (nats, not yet averaged).
    """
    size = math.ceil(steps / windows)
    sums, acc = [], torch.zeros(Q.shape[:-2] + Q.shape[-1:], dtype=Q.dtype, device=Q.device)
    for s in range(steps):
        u = inputs(t0 + s)
        Q = system.tangent(x, u, Q)
        x = system.step(x, u)
        last = s == steps - 1
        if (s + 1) % renorm_every == 0 or last or (s + 1) % size == 0:
            Q, R = torch.linalg.qr(Q)
            acc = acc + torch.log(torch.diagonal(R, dim1=-2, dim2=-1).abs())
        if (s + 1) % size == 0 or last:
            sums.append(acc)
            acc = torch.zeros_like(acc)
    return x, Q, torch.stack(sums)


def lyapunov_spectrum(
    model,
    *,
    k: int = 10,
    steps: int = 2000,
    inputs: Tensor | None = None,
    x0: Tensor | None = None,
    warmup: int = 500,
    renorm_every: int = 1,
    n_init: int = 4,
    windows: int = 10,
    seed: int = 0,
    per: str = "step",
    dtype: torch.dtype | None = None,
    full: bool = False,
) -> Tensor | LyapunovSpectrum:
    """The k leading Lyapunov exponents of a model's dynamics (QR method; module docstring).

    Args:
        model: a ``RateRNN`` (single or ensemble) or any model with ``step`` (``LSTMNet``).
        k: number of exponents, 1 ≤ k ≤ D (the state dimension).
        steps: steps over which the exponents are averaged (after the warm-up).
        inputs: None (autonomous: zero input, the bias acts), a constant input [I], or a
            sequence [T, B, I] (e.g. ``task.sample(8).inputs``): B trajectories, one per trial,
            the T steps repeated back to back to cover warm-up + steps.
        x0: initial states [D], [B, D] or [E, B, D]; None draws them (seeded, N(0, 1) per
            unit) and relies on the warm-up to reach the attractor.
        warmup: steps discarded before measuring (Q is aligned during them too).
        renorm_every: steps between QR re-orthonormalisations (1 is safest; larger is faster
            but overflows/loses precision when the spread of exponents × interval is large).
        n_init: initial conditions when ``inputs`` gives no batch.
        windows: the measurement is cut in this many windows for ``stderr``.
        seed: of the random initial states and tangent vectors.
        per: ``"step"`` (nats per step) or ``"time"`` (nats per unit time: / dt).
        dtype: compute in this dtype (e.g. float64); default the model's.
        full: return a ``LyapunovSpectrum`` (with the convergence estimate) instead of the
            exponents only.

    Returns:
        exponents [k] for a single network, [E, k] for an ensemble (or ``LyapunovSpectrum``).
    """
    system = as_system(model, dtype=dtype)
    _check(system, k=k, steps=steps, warmup=warmup, renorm_every=renorm_every, per=per,
           windows=windows)
    if x0 is not None and torch.as_tensor(x0).dim() >= 2 and inputs is None:
        n_init = torch.as_tensor(x0).shape[-2]  # the given states set the batch
    feed, B = _input_feed(system, inputs, n_init)
    gen = torch.Generator().manual_seed(seed)
    x = _initial_states(system, x0, B, gen)
    Q = torch.randn(system.E, x.shape[1], system.dim, k, generator=gen, dtype=torch.float64)
    Q = torch.linalg.qr(Q)[0].to(dtype=system.dtype, device=system.device)
    with torch.no_grad():
        if warmup:
            x, Q, _ = benettin(system, x, Q, feed, warmup, renorm_every=renorm_every)
        _, _, sums = benettin(system, x, Q, feed, steps, renorm_every=renorm_every,
                              windows=windows, t0=warmup)
    lengths = _window_lengths(steps, sums.shape[0])
    scale = 1.0 if per == "step" else 1.0 / _dt(system)
    win = sums / lengths.to(sums)[:, None, None, None] * scale  # [W, E, B, k]
    per_traj = sums.sum(0) / steps * scale  # [E, B, k]
    exps = per_traj.mean(1)
    n = win.shape[0] * win.shape[2]
    spread = win.permute(1, 0, 2, 3).reshape(system.E, n, k)
    stderr = spread.std(1) / math.sqrt(n) if n > 1 else torch.full_like(exps, float("nan"))
    single = not system.is_ensemble
    if single:
        exps, stderr = exps[0], stderr[0]
    if not full:
        return exps
    return LyapunovSpectrum(exps, stderr, per_traj, win,
                            "nats/step" if per == "step" else "nats/time")


def lyapunov_max(model, **options) -> Tensor:
    """λ_max, the largest exponent: ``lyapunov_spectrum(model, k=1, ...)[..., 0]``.

    Returns a 0-d tensor for a single network, [E] for an ensemble (or the full result with
    ``full=True``, k = 1).
    """
    out = lyapunov_spectrum(model, k=1, **options)
    return out if isinstance(out, LyapunovSpectrum) else out[..., 0]


def _check(system: System, *, k, steps, warmup, renorm_every, per, windows) -> None:
    if not (isinstance(k, int) and 1 <= k <= system.dim):
        raise ValueError(f"k must be an integer in 1..{system.dim} (the state dimension), "
                         f"got {k!r}")
    for name, value, low in (("steps", steps, 1), ("warmup", warmup, 0),
                             ("renorm_every", renorm_every, 1), ("windows", windows, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if windows > steps:
        raise ValueError(f"windows={windows} exceeds steps={steps}; use fewer windows")
    if per not in PER:
        raise ValueError(f"per must be one of {PER}, got {per!r}")
    if per == "time" and system.dt is None:
        raise ValueError("per='time' needs a model with a time step dt; use per='step'")


def _dt(system: System) -> float:
    return float(system.dt)


def _window_lengths(steps: int, n: int) -> Tensor:
    size = math.ceil(steps / n)
    return torch.tensor([min(size, steps - i * size) for i in range(n)], dtype=torch.float64)


def _input_feed(system: System, inputs: Tensor | None, n_init: int):
    """(t -> u [B, I], B) for the three forms of ``inputs``."""
    opts = dict(dtype=system.dtype, device=system.device)
    if inputs is None or (torch.is_tensor(inputs) and inputs.dim() == 1):
        if not (isinstance(n_init, int) and n_init >= 1):
            raise ValueError(f"n_init must be a positive integer, got {n_init!r}")
        u = torch.zeros(system.n_in, **opts) if inputs is None else inputs.to(**opts)
        if u.shape != (system.n_in,):
            raise ValueError(f"a constant input must have shape [{system.n_in}], got "
                             f"{tuple(u.shape)}")
        u = u.expand(n_init, -1)
        return (lambda t: u), n_init
    inputs = torch.as_tensor(inputs).to(**opts)
    if inputs.dim() != 3 or inputs.shape[-1] != system.n_in:
        raise ValueError(f"inputs must be [T, B, {system.n_in}] (time first) or a constant "
                         f"[{system.n_in}], got shape {tuple(inputs.shape)}")
    T = inputs.shape[0]
    return (lambda t: inputs[t % T]), inputs.shape[1]


def _initial_states(system: System, x0: Tensor | None, B: int, gen: torch.Generator) -> Tensor:
    E, D = system.E, system.dim
    if x0 is None:
        x = torch.randn(E, B, D, generator=gen, dtype=torch.float64)
        return x.to(dtype=system.dtype, device=system.device)
    x0 = torch.as_tensor(x0).to(dtype=system.dtype, device=system.device)
    if x0.shape[-1] != D or x0.dim() > 3:
        raise ValueError(f"x0 must be [{D}], [B, {D}] or [E, B, {D}], got {tuple(x0.shape)}")
    return x0.expand(E, B, D).clone()
