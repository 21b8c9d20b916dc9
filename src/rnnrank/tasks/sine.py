"""Frequency-cued periodic pattern generation.

Sussillo & Abbott (2009), "Generating coherent patterns of activity from chaotic neural
networks", Neuron 63:544 (a static input level selects which sine wave to generate); the periodic
target of Murray (2019), "Local online learning in recurrent networks with random feedback",
eLife 8:e43299 (RFLO) is ``waveform="murray"``.

Each trial draws a frequency index j uniformly from ``frequencies`` (cycles per time unit; the
defaults 0.04…0.1 are periods of 25…10 τ). Target, one channel, for the whole trial of
``duration`` = 50 (times in units of τ), time t = k·dt measured from trial start:

- ``waveform="sine"``:   A·sin(ωt),
- ``waveform="murray"``: A·[sin(ωt) + ½ sin(2ωt) + ¼ sin(4ωt)],

with ω = 2π·frequencies[j] and A = ``amplitude``. The mask is 0 during the first ``settle`` = 5
(the network may take a transient to lock on) and 1 afterwards.

With ``cue=True`` (default) there is one input channel holding the static level (j + 1)/n for
the whole trial (n = number of frequencies). With ``cue=False`` the task is autonomous:
``n_in = 0`` and ``Batch.inputs`` is [T, B, 0]; only one frequency is then allowed, and the
network needs a non-zero initial state or bias to start oscillating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Batch, Task, normalised_error, register_task

_WAVEFORMS = {"sine": ((1.0, 1.0),), "murray": ((1.0, 1.0), (2.0, 0.5), (4.0, 0.25))}


@register_task("sine")
@dataclass(frozen=True)
class Sine(Task):
    frequencies: tuple[float, ...] = (0.04, 0.06, 0.08, 0.1)
    duration: float = 50.0
    settle: float = 5.0
    waveform: str = "sine"
    amplitude: float = 1.0
    cue: bool = True
    dt: float = 0.2

    score_name = "normalised_error"
    higher_is_better = False

    def __post_init__(self) -> None:
        if len(self.frequencies) == 0 or min(self.frequencies) <= 0:
            raise ValueError(f"frequencies must be positive, got {self.frequencies}")
        if self.waveform not in _WAVEFORMS:
            raise ValueError(f"waveform must be one of {sorted(_WAVEFORMS)}, "
                             f"got {self.waveform!r}")
        if not self.cue and len(self.frequencies) != 1:
            raise ValueError("cue=False (autonomous) needs exactly one frequency, got "
                             f"{len(self.frequencies)}; pass frequencies=(f,) or cue=True")
        if not 0 <= self.settle < self.duration:
            raise ValueError(f"settle must be in [0, duration), got {self.settle}")

    @property
    def n_in(self) -> int:
        return 1 if self.cue else 0

    @property
    def n_out(self) -> int:
        return 1

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        T, n = self.steps(self.duration), len(self.frequencies)
        j = torch.randint(n, (batch_size,), generator=generator)
        omega = 2 * math.pi * torch.tensor(self.frequencies, dtype=torch.float64)[j]  # [B]
        t = torch.arange(T, dtype=torch.float64)[:, None] * self.dt  # [T, 1]
        wave = sum(w * torch.sin(h * omega * t) for h, w in _WAVEFORMS[self.waveform])
        targets = (self.amplitude * wave).float()[:, :, None]  # [T, B, 1]
        mask = torch.zeros(T, batch_size, 1)
        mask[int(round(self.settle / self.dt)):] = 1.0
        inputs = torch.zeros(T, batch_size, self.n_in)
        if self.cue:
            inputs[:, :, 0] = (j.float() + 1) / n
        return Batch(inputs, targets, mask, {"condition": j})

    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Masked MSE / masked variance of the target (0 = perfect)."""
        return normalised_error(outputs, batch.targets, batch.mask)
