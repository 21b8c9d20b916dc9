"""Learning-rate warm-up and decay: the factor that multiplies ``lr`` at each update.

Update k (k = 0 … S−1, S = ``steps``) uses ``lr · factor(k)`` with, for a warm-up of W updates,

    factor(k) = (k + 1) / W                                   for k < W   (linear warm-up)
    factor(k) = 1                                             for k ≥ W   ("constant")
    factor(k) = ½ (1 + cos(π (k − W) / (S − W)))              for k ≥ W   ("cosine": 1 → 0 at S)

Warm-up as in Goyal et al. (2017), "Accurate, large minibatch SGD" (linear, gradual); cosine decay
as in Loshchilov & Hutter (2017), "SGDR" (one cycle, no restart). The factor is applied through
``torch.optim.lr_scheduler.LambdaLR``; its ``state_dict`` (the update count) travels in checkpoints.
"""

from __future__ import annotations

import math
from functools import partial

import torch

SCHEDULES = ("constant", "cosine")


def lr_factor(step: int, *, warmup: int, schedule: str, steps: int) -> float:
    """Multiplier of the base learning rate for update ``step`` (0-based); see module doc."""
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    span = max(steps - warmup, 1)
    return 0.5 * (1.0 + math.cos(math.pi * min(step - warmup, span) / span))


def make_scheduler(optimizer: torch.optim.Optimizer, *, warmup: int, schedule: str,
                   steps: int) -> torch.optim.lr_scheduler.LambdaLR | None:
    """A ``LambdaLR`` applying ``lr_factor``, or None when the rate is constant (no warm-up)."""
    if warmup == 0 and schedule == "constant":
        return None
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, partial(lr_factor, warmup=warmup, schedule=schedule, steps=steps))
