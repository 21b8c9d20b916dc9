"""λ_max and gradient flossing for the Liu et al. (2024) reproduction.

Uses ``rr.dynamics.lyapunov_max`` and ``rr.learning.Flossing`` (the Lyapunov issue) when they are
importable; otherwise the two small functions marked TEMPORARY below stand in for them, and the
report says which was used. TEMPORARY: the lead replaces the fallbacks once the Lyapunov branch
is merged (delete ``_temporary_*`` and the ``try`` blocks).

Gradient flossing (Engelken 2023) is non-local: its gradient needs the network's Jacobians
through time, which no synapse has. For the bio-plausible rules it therefore stands for a
developmental phase before learning (REFERENCES §3): pre-flossing of W, U, b (not the readout)
toward λ_i = 0, then the rule trains as usual.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..models import rate_dynamics as rd
from ..models.rate_rnn import RateRNN


def source() -> str:
    """Which implementation is in use: ``"rnnrank.dynamics"`` or ``"temporary"``."""
    try:
        from ..dynamics import lyapunov_max  # noqa: F401
    except ImportError:
        return "temporary"
    return "rnnrank.dynamics"


def lambda_max(model: RateRNN, inputs: Tensor, *, steps: int, warmup: int) -> Tensor:
    """λ_max [E] in nats per unit time (τ) of the network driven by trial inputs [T, B, I]
    (zeros: the autonomous network, from random states)."""
    try:
        from ..dynamics import lyapunov_max
    except ImportError:
        return _temporary_lambda_max(model, inputs, steps=steps, warmup=warmup)
    lam = lyapunov_max(model, inputs=inputs, steps=steps, warmup=warmup, per="time")
    return lam.reshape(-1)


def preflossing(model: RateRNN, *, updates: int, k: int, lr: float, seed: int) -> None:
    """Pre-flossing in place: ``updates`` Adam steps pushing the k leading exponents to 0."""
    if updates <= 0:
        return
    try:
        from ..learning import Flossing
    except ImportError:
        _temporary_preflossing(model, updates=updates, k=k, lr=lr, seed=seed)
        return
    hook = Flossing(k=k, pre=updates, every=None, lr=lr)
    hook.init(model, torch.Generator().manual_seed(seed))
    hook.before_update(model, 0)


@torch.no_grad()
def _temporary_lambda_max(model: RateRNN, inputs: Tensor, *, steps: int,
                          warmup: int) -> Tensor:
    """TEMPORARY (replaced by rr.dynamics.lyapunov_max): QR method with k = 1 — one tangent
    vector per trial from a random state x0 + N(0, 1), v ← J v / ‖J v‖, λ = mean log ‖J v‖ / dt
    over ``steps`` after ``warmup``; the trials' inputs are repeated back to back. Returns [E]."""
    p = model.params()
    inputs = inputs.to(dtype=p.W.dtype)
    T, B = inputs.shape[0], inputs.shape[1]
    gen = torch.Generator().manual_seed(0)
    x = rd.initial_state(p, B) + torch.randn(p.W.shape[0], B, p.W.shape[-1], generator=gen,
                                             dtype=p.W.dtype)  # random start, N(0, 1) per unit
    v = torch.randn(*x.shape, 1, generator=gen, dtype=x.dtype)
    v = v / v.norm(dim=2, keepdim=True)
    total = torch.zeros(x.shape[0], dtype=torch.float64)
    kw = dict(alpha=model.alpha, phi=model.phi)
    for t in range(warmup + steps):
        v = rd.jvp(p, x, v, **kw)
        x = rd.step(p, x, inputs[t % T], **kw)
        norm = v.norm(dim=2, keepdim=True)
        v = v / norm
        if t >= warmup:
            total += norm.log().double().mean(dim=(1, 2, 3))
    return total / steps / model.config.dt


def _temporary_preflossing(model: RateRNN, *, updates: int, k: int, lr: float, seed: int,
                           window: int = 55, discard: int = 16, warmup: int = 100,
                           batch: int = 1) -> None:
    """TEMPORARY (replaced by rr.learning.Flossing): Engelken's pre-flossing on the autonomous
    network — per update, a differentiable QR estimate of the k leading exponents over
    ``window`` steps (the first ``discard`` dropped) from a random state after ``warmup``
    steps; loss Σ_members mean_i λ_i² (target 0); Adam on W, U, b (not the readout)."""
    params = [p for n, p in model.named_parameters() if n in ("W", "U", "b") and p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    E, N = model.ensemble_size, model.n_rec
    k = min(k, N)
    kw = dict(alpha=model.alpha, phi=model.phi)
    for _ in range(updates):
        p = model.params()
        u = torch.zeros(batch, model.config.n_in, dtype=p.W.dtype)
        with torch.no_grad():
            x = torch.randn(E, batch, N, generator=gen, dtype=p.W.dtype)
            for _ in range(warmup):
                x = rd.step(p, x, u, **kw)
        Q = torch.linalg.qr(torch.randn(E, batch, N, k, generator=gen, dtype=p.W.dtype))[0]
        total = 0.0
        for t in range(window):
            Q, R = torch.linalg.qr(rd.jvp(p, x, Q, **kw))
            x = rd.step(p, x, u, **kw)
            if t >= discard:
                total = total + torch.diagonal(R, dim1=-2, dim2=-1).abs().log()
        lam = total / (window - discard)  # [E, batch, k] nats per step
        loss = lam.pow(2).mean(dim=(1, 2)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    for p in params:
        p.grad = None
    if not math.isfinite(float(loss.detach())):
        raise RuntimeError("pre-flossing diverged (non-finite exponents); lower its lr")
