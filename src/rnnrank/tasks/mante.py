"""Context-dependent integration: report the sign of the evidence on the cued channel.

Mante, Sussillo, Shenoy & Newsome (2013), "Context-dependent computation by recurrent dynamics in
prefrontal cortex", Nature 503:78; in the setup of Schuessler et al. (2020, NeurIPS).

Inputs (4 channels): two context channels (one-hot, channel 0 = "attend sensory channel 0",
channel 1 = "attend sensory channel 1"), then two sensory channels. Output: 1 channel.

Trial (times in units of τ; defaults): fixation ``fixation`` = 3, stimulus ``stimulus`` = 20,
delay ``delay`` = 5, decision ``decision`` = 20 (48 in all). During the stimulus each sensory
channel carries a coherence c_i = ±k/8, k ∈ {1, 2, 4, 8} (sign and magnitude drawn independently
per channel), and the cued context channel is 1. Both sensory channels carry white noise
N(0, (``noise_std``/√dt)²) per step over the whole trial. The target is
±``target_amplitude`` = sign of the cued channel's coherence during the decision period (mask 1).
With ``fixate=True`` the target is also 0 with mask 1 from trial start to the end of the
stimulus. Schuessler et al.'s code generates Mante with ``fixate=True`` (``generate_nonlinear``;
``experiments.schuessler2020`` passes it); the default here stays False for other users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Batch, Task, expand_middle, register_task


@register_task("mante")
@dataclass(frozen=True)
class Mante(Task):
    fixation: float = 3.0
    stimulus: float = 20.0
    delay: float = 5.0
    decision: float = 20.0
    coherences: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)
    noise_std: float = 0.05
    target_amplitude: float = 0.5
    fixate: bool = False
    dt: float = 0.2

    score_name = "accuracy"

    def __post_init__(self) -> None:
        if min(self.fixation, self.delay) < 0 or min(self.stimulus, self.decision) <= 0:
            raise ValueError("period durations must be >= 0 (stimulus and decision > 0), got "
                             f"fixation={self.fixation}, stimulus={self.stimulus}, "
                             f"delay={self.delay}, decision={self.decision}")
        if len(self.coherences) == 0 or min(self.coherences) <= 0:
            raise ValueError(f"coherences must be positive magnitudes, got {self.coherences}")
        if self.noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std}")

    @property
    def n_in(self) -> int:
        return 4

    @property
    def n_out(self) -> int:
        return 1

    def _edges(self) -> tuple[int, int, int, int]:
        """Step indices: stimulus onset, stimulus end, decision onset, trial end."""
        on = self.steps(self.fixation) if self.fixation > 0 else 0
        off = on + self.steps(self.stimulus)
        dec = off + (self.steps(self.delay) if self.delay > 0 else 0)
        return on, off, dec, dec + self.steps(self.decision)

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        on, off, dec, T = self._edges()
        mags = torch.tensor(self.coherences, dtype=torch.float32)
        pick = torch.randint(len(mags), (batch_size, 2), generator=generator)
        signs = torch.randint(2, (batch_size, 2), generator=generator).float() * 2 - 1
        coh = mags[pick] * signs  # [B, 2]
        context = torch.randint(2, (batch_size,), generator=generator)
        noise = torch.randn(T, batch_size, 2, generator=generator)

        inputs = torch.zeros(T, batch_size, 4)
        inputs[on:off, torch.arange(batch_size), context] = 1.0
        inputs[:, :, 2:] = noise * (self.noise_std / math.sqrt(self.dt))
        inputs[on:off, :, 2:] += coh
        cued = coh[torch.arange(batch_size), context]  # [B]
        targets = torch.zeros(T, batch_size, 1)
        mask = torch.zeros(T, batch_size, 1)
        targets[dec:] = (torch.sign(cued) * self.target_amplitude)[:, None]
        mask[dec:] = 1.0
        if self.fixate:
            mask[:off] = 1.0
        return Batch(inputs, targets, mask, {"condition": context, "context": context,
                                             "coherence": coh})

    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Fraction of trials whose mean output over the decision period has the target's sign."""
        dec = self._edges()[2]
        choice = torch.sign(outputs[dec:].mean(0))  # [..., B, 1]
        want = expand_middle(torch.sign(batch.targets[dec:].mean(0))[None], choice[None])[0]
        return (choice == want).to(outputs.dtype).flatten(-2).mean(-1)
