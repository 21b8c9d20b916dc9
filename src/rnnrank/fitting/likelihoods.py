"""Observation models of a fit: MSE (Gaussian), Poisson (spike counts), Gamma (positive rates).

The network's readout η = D φ(x) + d is mapped to the predicted mean by the loss's link:

    mse      mean = η                 loss = (y − η)²
    poisson  mean = softplus(η)       loss = mean − y log mean            (y integer counts ≥ 0)
    gamma    mean = softplus(η)       loss = k (y / mean + log mean)      (y > 0; k the shape)

Each loss is per entry (constants in y dropped), averaged over the entries a mask selects.
Scores are *normalised deviances*: the deviance of the fit over the deviance of a null model that
predicts each neuron's mean over the scored entries — for MSE this is the normalised MSE ≈ 1 − R²
(Pellegrino et al. 2023 normalise by the data variance), for counts the fraction of Poisson
deviance unexplained. 0 = perfect, 1 = no better than each neuron's mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

LOSSES = ("mse", "poisson", "gamma")
_EPS = 1e-8


def check_loss(loss: str, data: Tensor) -> None:
    """Validate the loss name against the data it will fit."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if loss == "poisson" and bool((data < 0).any()):
        raise ValueError("loss='poisson' needs non-negative counts; got negative data "
                         "(use loss='mse' for z-scored rates)")
    if loss == "gamma" and bool((data <= 0).any()):
        raise ValueError("loss='gamma' needs positive rates; got data ≤ 0 (add an offset or use "
                         "loss='mse')")


def mean(eta: Tensor, loss: str) -> Tensor:
    """Predicted mean from the readout η (the link of the module docstring)."""
    return eta if loss == "mse" else F.softplus(eta)


def per_entry(eta: Tensor, y: Tensor, loss: str, log_shape: Tensor | None = None) -> Tensor:
    """Loss per entry (same shape as y)."""
    if loss == "mse":
        return (y - eta) ** 2
    m = F.softplus(eta) + _EPS
    if loss == "poisson":
        return m - y * torch.log(m)
    k = torch.exp(log_shape) if log_shape is not None else torch.ones((), dtype=y.dtype)
    # Full Gamma NLL in terms of (mean, shape k), so that k is learned too.
    return (k * (y / m + torch.log(m)) - k * torch.log(k) + torch.lgamma(k)
            - (k - 1) * torch.log(y.clamp_min(_EPS)))


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` over the entries where ``mask`` is True (float mask also works)."""
    w = mask.to(values.dtype)
    return (values * w).sum() / w.sum().clamp_min(1.0)


def deviance(mu: Tensor, y: Tensor, loss: str) -> Tensor:
    """Unit deviance per entry of predicted means ``mu`` for data ``y``."""
    if loss == "mse":
        return (y - mu) ** 2
    mu = mu.clamp_min(_EPS)
    if loss == "poisson":
        ylog = torch.where(y > 0, y * torch.log(y.clamp_min(_EPS) / mu), torch.zeros_like(y))
        return 2 * (ylog - (y - mu))
    yc = y.clamp_min(_EPS)
    return 2 * ((yc - mu) / mu - torch.log(yc / mu))


def normalised_deviance(mu: Tensor, y: Tensor, mask: Tensor, loss: str) -> float:
    """Deviance of predictions over the deviance of each neuron's mean, on masked entries.

    mu, y, mask [T, K, n]. For ``loss="mse"`` this is the normalised MSE.
    """
    y = y.to(torch.float64)
    mu = mu.to(torch.float64)
    w = mask.to(torch.float64)
    count = w.sum(dim=(0, 1))
    neuron_mean = (y * w).sum(dim=(0, 1)) / count.clamp_min(1.0)
    if loss != "mse":
        neuron_mean = neuron_mean.clamp_min(_EPS)
    null = (deviance(neuron_mean.expand_as(y), y, loss) * w).sum()
    fit = (deviance(mu, y, loss) * w).sum()
    return float(fit / null.clamp_min(1e-12))
