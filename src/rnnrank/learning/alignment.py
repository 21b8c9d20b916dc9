"""Gradient quality: cosine similarity of a rule's estimate with the exact (BPTT) gradient.

``rr.train(..., track_alignment=True)`` computes, at every recorded step, the exact gradient of
the same batch (same noise) and writes ``cos_<param>`` per trainable parameter and ``cos_all``
(all parameters concatenated) per ensemble member into metrics.csv — the measure of how well
e-prop, RFLO or feedback alignment follow the true gradient as training goes on (Liu et al. 2024).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..tasks.base import Batch
from .rules import LossFn, make_rule


def alignment_fields(model: nn.Module) -> tuple[str, ...]:
    """Metric column names: ``cos_<name>`` per trainable parameter, then ``cos_all``."""
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    return (*(f"cos_{n}" for n in names), "cos_all")


def cosine_alignment(estimate: dict[str, Tensor], exact: dict[str, Tensor], *, members: int,
                     ensemble: bool) -> dict[str, Tensor]:
    """Cosine per member [E] of each named estimate with the exact gradient, and over all.

    Tensors are in the model's own shapes (a leading member axis when ``ensemble``). A zero
    vector has cosine NaN (no direction to compare).
    """
    out, dots, na, nb = {}, 0.0, 0.0, 0.0
    for name, g in exact.items():
        a = estimate[name].reshape(members if ensemble else 1, -1).double()
        b = g.reshape(members if ensemble else 1, -1).double()
        d, sa, sb = (a * b).sum(1), a.pow(2).sum(1), b.pow(2).sum(1)
        out[f"cos_{name}"] = d / (sa * sb).sqrt()
        dots, na, nb = dots + d, na + sa, nb + sb
    out["cos_all"] = dots / (na * nb).sqrt()
    return out


def exact_gradients(model: nn.Module, batch: Batch, *, loss_fn: LossFn,
                    noise: Tensor | None) -> dict[str, Tensor]:
    """The exact gradient of the batch's loss (full BPTT: the model's adjoint or autograd)."""
    return make_rule("bptt").gradients(model, batch, loss_fn=loss_fn, noise=noise).grads


@torch.no_grad()
def track(model: nn.Module, batch: Batch, estimate: dict[str, Tensor], *, loss_fn: LossFn,
          noise: Tensor | None) -> dict[str, Tensor]:
    """``cosine_alignment`` of ``estimate`` with the exact gradient of the same batch."""
    exact = exact_gradients(model, batch, loss_fn=loss_fn, noise=noise)
    return cosine_alignment(estimate, exact, members=model.ensemble_size,
                            ensemble=model.is_ensemble)
