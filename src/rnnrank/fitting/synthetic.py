"""Recordings with a known truth: a planted low-tensor-rank teacher, and a trained network.

``ltr_teacher`` draws a network of the fitted family (``ltr_model``) with known directions a, b
(orthonormal columns), smooth trial factors c(k) and a readout, and records it — the planted
truth of the recovery tests. ``record_network`` records a rate network whose weights change
from trial to trial (W(k) [K, N, N], e.g. every snapshot of trial-by-trial learning), one trial
per snapshot, through ``rate_dynamics.unroll_states`` with the K snapshots as an ensemble.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..models import rate_dynamics as rd
from ..nonlinearities import get_nonlinearity
from . import ltr_model as lm
from .recording import Recording


def _smooth_factors(K: int, R: int, g: torch.Generator) -> Tensor:
    """c [K, R]: offsets in [1, 2] plus slow sinusoids and a smoothed step (learning)."""
    k = torch.arange(K, dtype=torch.float64)[:, None]
    base = 1.0 + torch.rand(1, R, generator=g, dtype=torch.float64)
    phase = 2 * math.pi * torch.rand(1, R, generator=g, dtype=torch.float64)
    freq = 0.5 + 1.5 * torch.rand(1, R, generator=g, dtype=torch.float64)
    wave = 0.6 * torch.sin(2 * math.pi * freq * k / K + phase)
    onset = K * (0.3 + 0.4 * torch.rand(1, R, generator=g, dtype=torch.float64))
    step = 0.8 * torch.tanh((k - onset) / (0.05 * K)) * torch.sign(torch.randn(1, R, generator=g))
    return base + wave + step


def ltr_teacher(*, T: int = 20, K: int = 60, n: int = 30, N: int = 40, rank: int = 2,
                n_conditions: int = 4, alpha: float = 0.2, n_prep: int = 5, noise: float = 0.0,
                seed: int = 0, frozen: bool = False,
                dtype=torch.float64) -> tuple[Recording, dict[str, Tensor]]:
    """A planted low-tensor-rank network and its recording (data = readout + Gaussian noise).

    ``frozen=True`` is the null control: the same network (same draws) with c(k) = c(0) on
    every trial — no learning, only the noise differs between trials of a condition.

    Returns:
        (recording [T, K, n] with times 0..T−1, truth {"c" [K, R], "a" [N, R], "b" [N, R],
        "D" [n, N]}). The fit family's own model generated it, with ``n_prep`` input steps.
    """
    g = torch.Generator().manual_seed(int(seed))
    cfg = lm.ModelConfig(rank=rank, n_rec=N, alpha=alpha, n_prep=n_prep)
    p = lm.init_params(cfg, n_trials=K, n_out=n, n_cond=n_conditions, n_steps_in=n_prep,
                       seed=seed + 1, dtype=torch.float64)
    a = torch.linalg.qr(torch.randn(N, rank, generator=g, dtype=torch.float64))[0]
    b = torch.linalg.qr(a + 0.7 * torch.randn(N, rank, generator=g, dtype=torch.float64))[0]
    p["A"], p["B"] = a, b
    p["s0"] = 1.5 * torch.randn(n_conditions, rank, generator=g, dtype=torch.float64)
    p["v"] = 0.5 * torch.randn(n_prep, n_conditions, rank, generator=g, dtype=torch.float64)
    c = _smooth_factors(K, rank, g)
    if frozen:
        c = c[:1].expand(K, rank).clone()
    condition = torch.arange(K) % n_conditions
    eta, _, _ = lm.predict_eta(p, cfg, c, condition, T)
    y = eta + noise * torch.randn(eta.shape, generator=g, dtype=torch.float64)
    rec = Recording(data=y.to(dtype), condition=condition)
    truth = {"c": c, "a": a, "b": b, "D": lm.readout_matrix(p, cfg)}
    return rec, truth


@torch.no_grad()
def record_network(weights: Tensor, inputs: Tensor, *, U: Tensor, b: Tensor | None = None,
                   x0: Tensor | None = None, alpha: float, nonlinearity: str = "tanh",
                   condition: Tensor | None = None, units: Tensor | None = None,
                   times: Tensor | None = None, epoch: Tensor | None = None) -> Recording:
    """Rates φ(x) of trial k run with weights W(k): a Recording [T, K, n].

    Args:
        weights: W(k) [K, N, N], one matrix per trial (e.g. snapshots of learning).
        inputs: [T, K, I], the input of each trial.
        U: [N, I] (or [K, N, I] if it changed too); b: [N] or [K, N]; x0: [N] or [K, N].
        alpha: dt/τ of the network; nonlinearity: its φ.
        units: indices of the recorded neurons (default all).
        condition, times, epoch: passed to the Recording.
    """
    K, N, _ = weights.shape
    dtype = weights.dtype

    def per_trial(v: Tensor | None, size: tuple[int, ...]) -> Tensor:
        """[K, *size]: zeros when None, broadcast over trials when given once."""
        v = torch.zeros(size, dtype=dtype) if v is None else v.to(dtype)
        return v.expand(K, *size) if v.dim() == len(size) else v

    params = rd.RateParams(W=weights, U=per_trial(U, tuple(U.shape[-2:])),
                           V=torch.zeros(K, 1, N, dtype=dtype), b=per_trial(b, (N,)),
                           x0=per_trial(x0, (N,)))
    phi = get_nonlinearity(nonlinearity)
    _, rates = rd.unroll_states(params, inputs.to(dtype)[:, :, None, :], alpha=alpha, phi=phi)
    r = rates[1:, :, 0]  # [T, K, N]
    if units is not None:
        r = r[:, :, units]
    return Recording(data=r, condition=condition, times=times, epoch=epoch)
