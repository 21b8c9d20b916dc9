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
        # All pulses at once (a loop over them cost ~1 ms per batch, a sweep draws one batch per
        # member and update). Onsets are increasing and spaced by ≥ settle ≥ pulse, so each
        # (time, trial) lies in at most one pulse and one target window, and for each channel the
        # last pulse begun on it decides that channel's target and mask.
        time = torch.arange(T)[:, None, None]  # [T, 1, 1]
        on = onsets[None]  # [1, B, P]
        nxt = torch.cat([onsets[:, 1:], torch.full_like(onsets[:, :1], T)], dim=1)[None]
        onehot = torch.nn.functional.one_hot(channels, self.n_bits).float()  # [B, P, C]
        signed = onehot * signs[..., None].float()  # [B, P, C]
        in_pulse = ((time >= on) & (time < on + pulse)).float()  # [T, B, P]
        inputs = torch.einsum("tbp,bpc->tbc", in_pulse, signed) * self.input_amplitude
        if self.memory == "last":
            window = ((time >= on + settle) & (time < nxt)).float()  # [T, B, P]
            targets = torch.einsum("tbp,bpc->tbc", window, signed) * self.target_amplitude
            mask = window.sum(2, keepdim=True).expand(-1, -1, self.n_bits).contiguous()
        else:
            # for each channel: the sign of the last pulse whose settle time has passed (the
            # target holds it through later pulses' settling), and whether the last pulse begun
            # has settled (the mask is 0 while the output may move)
            index = torch.arange(n_pulses).view(1, 1, -1, 1)
            on_channel = onehot.bool()[None]  # [1, B, P, C]

            def last(started):  # [T, B, P] → index of the last such pulse per channel, or −1
                return torch.where(started[..., None] & on_channel, index, -1).amax(2)

            held, begun = last(time >= on + settle), last(time >= on)  # [T, B, C]
            sign = torch.gather(signs[None].expand(T, -1, -1), 2, held.clamp(min=0)).float()
            targets = torch.where(held >= 0, sign * self.target_amplitude, 0.0)
            mask = ((begun >= 0) & (begun == held)).float()
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
