"""n-bit flip-flop: store the sign of the last pulse on each input channel.

Sussillo & Barak (2013), "Opening the black box", Neural Computation 25:626 (``memory="all"``:
each output holds the sign of the last pulse on its own channel); Schuessler et al. (2020, NeurIPS)
use the variant ``memory="last"`` with 2 bits: only the channel pulsed last is non-zero.

Trial (times in units of τ): pulses of ``pulse_duration`` and amplitude ±``input_amplitude`` on a
random channel, the first after ``first_pulse``, then separated by ``interval`` ~ U[lo, hi] plus
``settle``. The target is ±``target_amplitude`` from ``settle`` after a pulse onset until the next
pulse; the loss mask is 1 in those windows (for ``memory="all"``, only on channels already pulsed).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Batch, Task, masked_mean, register_task


@register_task("flipflop")
@dataclass(frozen=True)
class FlipFlop(Task):
    n_bits: int = 3
    duration: float = 50.0
    memory: str = "all"
    first_pulse: float = 1.0
    pulse_duration: float = 1.0
    interval: tuple[float, float] = (5.0, 25.0)
    settle: float = 5.0
    input_amplitude: float = 1.0
    target_amplitude: float = 0.5
    dt: float = 0.2

    score_name = "accuracy"

    def __post_init__(self) -> None:
        if self.n_bits < 1:
            raise ValueError(f"n_bits must be >= 1, got {self.n_bits}")
        if self.memory not in ("all", "last"):
            raise ValueError(f"memory must be 'all' or 'last', got {self.memory!r}")
        lo, hi = self.interval
        if not 0 <= lo <= hi:
            raise ValueError(f"interval must be (lo, hi) with 0 <= lo <= hi, got {self.interval}")
        if self.pulse_duration > self.settle:
            raise ValueError("pulse_duration must not exceed settle (the target would overlap "
                             "the pulse)")

    @property
    def n_in(self) -> int:
        return self.n_bits

    @property
    def n_out(self) -> int:
        return self.n_bits

    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        T = self.steps(self.duration)
        lo, hi = self.interval
        n_pulses = int(self.duration // (lo + self.settle)) + 2  # enough to cover the trial
        gaps = lo + (hi - lo) * torch.rand(batch_size, n_pulses, generator=generator,
                                           dtype=torch.float64)
        spacing = torch.cumsum(gaps + self.settle, dim=1)
        onsets_t = self.first_pulse + torch.cat([torch.zeros(batch_size, 1, dtype=torch.float64),
                                                 spacing[:, :-1]], dim=1)
        onsets = torch.floor(onsets_t / self.dt + 1e-9).long()  # [B, P] step indices
        channels = torch.randint(self.n_bits, (batch_size, n_pulses), generator=generator)
        signs = torch.randint(2, (batch_size, n_pulses), generator=generator) * 2 - 1
        pulse, settle = self.steps(self.pulse_duration), self.steps(self.settle)

        inputs = torch.zeros(T, batch_size, self.n_bits)
        targets = torch.zeros(T, batch_size, self.n_bits)
        mask = torch.zeros(T, batch_size, self.n_bits)
        time = torch.arange(T)[:, None]  # [T, 1]
        rows = torch.arange(batch_size)
        for p in range(n_pulses):
            on = onsets[:, p]  # [B]
            nxt = onsets[:, p + 1] if p + 1 < n_pulses else torch.full_like(on, T)
            ch, sg = channels[:, p], signs[:, p].float()
            in_pulse = (time >= on) & (time < on + pulse)  # [T, B]
            inputs[:, rows, ch] += in_pulse * sg * self.input_amplitude
            window = (time >= on + settle) & (time < nxt)  # [T, B]
            if self.memory == "last":
                targets[window] = 0.0
                mask[window] = 1.0
                targets[:, rows, ch] += window * sg * self.target_amplitude
            else:
                hold = time >= on + settle  # the bit holds until overwritten by a later pulse
                targets[:, rows, ch] = torch.where(hold, sg * self.target_amplitude,
                                                   targets[:, rows, ch])
                mask[:, rows, ch] = torch.where(hold, 1.0, mask[:, rows, ch])
                # Between a pulse and the end of its settle time the output may move: unmask it.
                moving = (time >= on) & (time < on + settle)
                mask[:, rows, ch] = torch.where(moving, 0.0, mask[:, rows, ch])
        return Batch(inputs, targets, mask, {"onsets": onsets, "channels": channels,
                                             "signs": signs})

    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Fraction of masked (time, trial, bit) entries whose output sign matches the target
        (entries with target 0, in ``memory="last"``, count as correct when |y| < A/2)."""
        t = batch.targets.to(outputs.device)
        while t.dim() < outputs.dim():
            t = t.unsqueeze(1)
        half = 0.5 * self.target_amplitude
        correct = torch.where(t == 0, outputs.abs() < half, torch.sign(outputs) == torch.sign(t))
        return masked_mean(correct.to(outputs.dtype), batch.mask.to(outputs.device))
