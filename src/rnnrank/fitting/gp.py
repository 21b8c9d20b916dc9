"""Gaussian-process reparametrisation of the trial factors c(k) (Pellegrino et al. 2023, NeurIPS).

Trial factors are smooth over the position of trials in the session. Following the paper, they
are not penalised by a prior; they are *parametrised* as

    c = L Z + μ,      L = chol(K_RQ + σ_obs² I),      K_RQ(Δ) = σ² (1 + Δ² / (2 ℓ²))⁻¹

with Z [K, R] and μ [R] the free parameters and Δ the difference of ``trial_id`` (rational
quadratic kernel, α = 1; ℓ = ``length`` in trials). With ``breaks`` (one epoch label per trial)
K is block diagonal: no smoothing across epoch boundaries. Defaults ℓ = 15, σ = 0.1,
σ_obs = 0.1 are the paper's.

``interpolate`` predicts c at new trial positions by the GP posterior mean given c at known ones,
which is how held-out trials are scored (``cross_validate(scheme="trials")``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class GPConfig:
    """Kernel of the trial factors: ℓ (trials), σ, σ_obs, and whether epochs break smoothness."""

    length: float = 15.0
    scale: float = 0.1
    noise: float = 0.1
    break_at_epochs: bool = False

    def __post_init__(self) -> None:
        if self.length <= 0 or self.scale <= 0 or self.noise < 0:
            raise ValueError(f"GP needs length > 0, scale > 0, noise ≥ 0; got {self.length}, "
                             f"{self.scale}, {self.noise}")


def rq_kernel(s: Tensor, t: Tensor, cfg: GPConfig, groups_s: Tensor | None = None,
              groups_t: Tensor | None = None) -> Tensor:
    """K_RQ between trial positions s [K1] and t [K2] → [K1, K2]; zero across groups."""
    d = s[:, None].double() - t[None, :].double()
    K = cfg.scale**2 / (1.0 + d**2 / (2.0 * cfg.length**2))
    if groups_s is not None and groups_t is not None:
        K = K * (groups_s[:, None] == groups_t[None, :])
    return K


def cholesky_factor(trial_id: Tensor, cfg: GPConfig, epoch: Tensor | None = None) -> Tensor:
    """L = chol(K_RQ + σ_obs² I) [K, K] (float64; lower triangular)."""
    groups = epoch if cfg.break_at_epochs else None
    K = rq_kernel(trial_id, trial_id, cfg, groups, groups)
    K = K + (cfg.noise**2 + 1e-9) * torch.eye(len(trial_id), dtype=K.dtype)
    return torch.linalg.cholesky(K)


def interpolate(c_known: Tensor, mu: Tensor, known: Tensor, new: Tensor, cfg: GPConfig,
                epoch_known: Tensor | None = None, epoch_new: Tensor | None = None) -> Tensor:
    """GP posterior mean of c at positions ``new`` [K2] given c_known [K1, R] at ``known`` [K1].

    c_new = μ + K(new, known) (K(known, known) + σ_obs² I)⁻¹ (c_known − μ).
    """
    g = cfg.break_at_epochs and epoch_known is not None and epoch_new is not None
    Kkk = rq_kernel(known, known, cfg, *((epoch_known, epoch_known) if g else (None, None)))
    Kkk = Kkk + (cfg.noise**2 + 1e-9) * torch.eye(len(known), dtype=Kkk.dtype)
    Knk = rq_kernel(new, known, cfg, *((epoch_new, epoch_known) if g else (None, None)))
    resid = (c_known - mu).double()
    out = mu.double() + Knk @ torch.linalg.solve(Kkk, resid)
    return out.to(c_known.dtype)
