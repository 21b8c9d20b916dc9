"""Losses of network outputs against task targets, one value per ensemble member.

At the bottom of the package: training (``learning``) and analyses (``analysis``) both use them.
"""

from __future__ import annotations

from torch import Tensor

from .tasks.base import masked_mean


def masked_mse(outputs: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """Σ mask·(y − y*)² / Σ mask per ensemble member.

    Args:
        outputs: [T, E, B, O] (effector outputs, see ``Task.effector``).
        targets: [T, B, O] or [T, E, B, O].
        mask: [T, B, O] loss weights.

    Returns:
        loss [E]. (Schuessler et al. 2020 use half of this; with Adam the factor is immaterial.)
    """
    if targets.dim() == outputs.dim() - 1:
        targets = targets.unsqueeze(1)
    return masked_mean((outputs - targets) ** 2, mask)
