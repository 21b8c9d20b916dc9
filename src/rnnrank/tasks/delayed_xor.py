"""Delayed XOR: report the exclusive-or of two past input bits.

The task of gradient flossing (Engelken 2023, NeurIPS, "Gradient flossing: improving gradient
descent through dynamic control of Jacobians"; github RainerEngelken/GradientFlossing), used by
Liu, Zhang & Liu (2024) beside Mante and centre-out reaching. Engelken's discrete-time network
sees Bernoulli(½) bits x_t ∈ {0, 1} and must output y_t = x_{t−10} ⊕ x_{t−20}, T = 300.

Here the bits are held for ``bit_time`` time units each (a leaky rate network needs them held for
about τ to register them), ``n_bits`` per trial. One input channel holds bit k ∈ {0, 1} during
[k·bit_time, (k+1)·bit_time); the one output must give, during bit k,

    y = x[k − lags[0]] XOR x[k − lags[1]]         (∈ {0, 1}; masked out for k < max(lags)).

Defaults: lags (1, 2) bits of 1 time unit, 30 bits, dt = 0.2 (the package's default step); with
``dt=0.1``, the Liu lab's dt/τ, that is Engelken's T = 300 steps with lags of 10 and 20 steps.

Score: ``normalised_error`` (masked MSE / masked target variance; 0 = perfect, 1 = as bad as
outputting the mean ½); ``accuracy`` gives the fraction of masked steps where the output
thresholded at ½ is the right bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Batch, Task, expand_middle, masked_mean, normalised_error, register_task


@register_task("delayed_xor")
@dataclass(frozen=True)
class DelayedXOR(Task):
    lags: tuple[int, int] = (1, 2)
    n_bits: int = 30
    bit_time: float = 1.0
    dt: float = 0.2

    score_name = "normalised_error"
    higher_is_better = False

    def __post_init__(self) -> None:
        lags = tuple(self.lags)
        if (len(lags) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                                  for v in lags) or lags[0] == lags[1]):
            raise ValueError(f"lags must be two different positive integers (bits), got "
                             f"{self.lags!r}")
        if not isinstance(self.n_bits, int) or self.n_bits <= max(lags):
            raise ValueError(f"n_bits must exceed the longest lag {max(lags)}, got "
                             f"{self.n_bits!r}")
        if not self.bit_time >= self.dt:
            raise ValueError(f"bit_time must be >= dt = {self.dt}, got {self.bit_time}; "
                             "a bit must last at least one step")

    @property
    def n_in(self) -> int:
        return 1

    @property
    def n_out(self) -> int:
        return 1

    @property
    def steps_per_bit(self) -> int:
        return self.steps(self.bit_time)

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        bits = torch.randint(2, (self.n_bits, batch_size), generator=generator)  # [K, B]
        a, b = self.lags
        label = torch.zeros_like(bits)
        label[max(a, b):] = bits[max(a, b) - a:self.n_bits - a] ^ bits[max(a, b) - b:
                                                                        self.n_bits - b]
        mask = torch.zeros(self.n_bits, batch_size)
        mask[max(a, b):] = 1.0
        hold = self.steps_per_bit  # each bit held for this many steps
        inputs = bits.float().repeat_interleave(hold, 0)[:, :, None]
        targets = label.float().repeat_interleave(hold, 0)[:, :, None]
        mask = mask.repeat_interleave(hold, 0)[:, :, None]
        return Batch(inputs, targets, mask, {"bits": bits.T.contiguous()})

    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Masked MSE / masked variance of the target (0 = perfect, 1 = the mean's error)."""
        return normalised_error(outputs, batch.targets, batch.mask)

    def accuracy(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Fraction of masked steps where (output > ½) is the target bit; [T, ..., B, O] → [...]."""
        target = expand_middle(batch.targets, outputs).to(outputs.dtype)
        right = ((outputs > 0.5) == (target > 0.5)).to(outputs.dtype)
        return masked_mean(right, batch.mask.to(outputs.device))
