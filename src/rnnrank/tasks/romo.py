"""Parametric working memory: compare two vibration frequencies separated by a delay.

Romo, Brody, Hernández & Lemus (1999), "Neuronal correlates of parametric working memory in the
prefrontal cortex", Nature 399:470; in the setup of Schuessler et al. (2020, NeurIPS).

Input: 1 channel, carrying f1 then f2 as pulse amplitudes. Outputs: 2 channels
(channel 0 = "f1 was larger", channel 1 = "f2 was larger").

Trial (times in units of τ; defaults): fixation ``fixation`` = 3, f1 pulse of ``pulse`` = 1,
delay ~ U[``delay`` = (2, 8)], f2 pulse of ``pulse`` = 1, wait ``wait`` = 5, decision
``decision`` = 10. f1, f2 ~ U[``frequency_range`` = (0.5, 1.5)], redrawn until
|f1 − f2| ≥ ``min_difference`` = 0.2. In the decision window the target is ``target_amplitude``
= 0.5 on channel argmax(f1, f2) and 0 on the other (mask 1). With ``fixate=True`` (default, as in
Schuessler's code) the target is also 0 with mask 1 from trial start until f2 ends. Every trial
lasts as long as one with the longest delay (28 by default), so batches are rectangular; after
the decision window the mask is 0. ``info["decision_onset"]`` [B] holds each trial's window start.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Batch, Task, register_task


@register_task("romo")
@dataclass(frozen=True)
class Romo(Task):
    fixation: float = 3.0
    pulse: float = 1.0
    delay: tuple[float, float] = (2.0, 8.0)
    wait: float = 5.0
    decision: float = 10.0
    frequency_range: tuple[float, float] = (0.5, 1.5)
    min_difference: float = 0.2
    target_amplitude: float = 0.5
    fixate: bool = True
    dt: float = 0.2

    score_name = "accuracy"

    def __post_init__(self) -> None:
        lo, hi = self.delay
        if not 0 <= lo <= hi:
            raise ValueError(f"delay must be (lo, hi) with 0 <= lo <= hi, got {self.delay}")
        f_lo, f_hi = self.frequency_range
        if not f_lo < f_hi or self.min_difference >= f_hi - f_lo or self.min_difference < 0:
            raise ValueError(f"need frequency_range lo < hi and 0 <= min_difference < hi - lo, "
                             f"got {self.frequency_range} and {self.min_difference}")
        if min(self.fixation, self.wait) < 0 or min(self.pulse, self.decision) <= 0:
            raise ValueError("fixation, wait must be >= 0 and pulse, decision > 0")

    @property
    def n_in(self) -> int:
        return 1

    @property
    def n_out(self) -> int:
        return 2

    def _n(self, duration: float) -> int:
        return int(round(duration / self.dt))

    def trial_steps(self) -> int:
        """Steps per trial: the trial with the longest delay."""
        return (self._n(self.fixation) + 2 * self._n(self.pulse) + self._n(self.delay[1])
                + self._n(self.wait) + self._n(self.decision))

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        T, B = self.trial_steps(), batch_size
        f_lo, f_hi = self.frequency_range
        f = f_lo + (f_hi - f_lo) * torch.rand(B, 2, generator=generator)
        bad = (f[:, 0] - f[:, 1]).abs() < self.min_difference
        while bool(bad.any()):  # redraw the offending pairs only
            f[bad] = f_lo + (f_hi - f_lo) * torch.rand(int(bad.sum()), 2, generator=generator)
            bad = (f[:, 0] - f[:, 1]).abs() < self.min_difference
        lo, hi = self.delay
        delay = lo + (hi - lo) * torch.rand(B, generator=generator, dtype=torch.float64)
        delay_steps = torch.round(delay / self.dt).long()  # [B]

        pulse = self._n(self.pulse)
        f1_on = self._n(self.fixation)
        f2_on = f1_on + pulse + delay_steps  # [B]
        dec_on = f2_on + pulse + self._n(self.wait)
        dec_off = dec_on + self._n(self.decision)
        time = torch.arange(T)[:, None]  # [T, 1]
        inputs = torch.zeros(T, B, 1)
        inputs[f1_on:f1_on + pulse, :, 0] = f[:, 0]
        in_f2 = (time >= f2_on) & (time < f2_on + pulse)  # [T, B]
        inputs[:, :, 0] += in_f2 * f[:, 1]

        choice = (f[:, 1] > f[:, 0]).long()  # argmax(f1, f2)
        window = ((time >= dec_on) & (time < dec_off)).float()  # [T, B]
        targets = torch.zeros(T, B, 2)
        targets[:, torch.arange(B), choice] = window * self.target_amplitude
        mask = window[:, :, None].expand(T, B, 2).clone()
        if self.fixate:
            mask[(time < f2_on + pulse)] = 1.0
        return Batch(inputs, targets, mask, {"condition": choice, "f1": f[:, 0], "f2": f[:, 1],
                                             "decision_onset": dec_on})

    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Fraction of trials whose larger mean output over the decision window is the target's."""
        T = outputs.shape[0]
        on = batch.info["decision_onset"].to(outputs.device)  # [B]
        time = torch.arange(T, device=outputs.device)[:, None]
        window = ((time >= on) & (time < on + self._n(self.decision))).to(outputs.dtype)
        window = window.reshape((T,) + (1,) * (outputs.dim() - 3) + (-1, 1))
        mean = (outputs * window).sum(0)  # [..., B, 2]; the window length is the same per trial
        choice = mean.argmax(-1)
        return (choice == batch.info["condition"].to(outputs.device)).to(outputs.dtype).mean(-1)
