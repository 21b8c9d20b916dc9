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

``objective="ce"`` (the Liu lab's convention, REFERENCES §3, ``LearningRuleSimilarities``
``main_train_model.py``: 3 outputs, ``cross_entropy`` over the masked steps) makes the decision
a 3-class choice: 3 outputs read as logits of the classes 0 = fixate, 1 = left (cued coherence
< 0), 2 = right (> 0); the targets are one-hot [T, B, 3] (the choice during the decision
period; with ``fixate=True`` class 0 from trial start to the end of the stimulus) and the mask
repeats each step's weight on the 3 channels. ``loss`` is then the softmax cross-entropy
−Σ_c y*_c log softmax(y)_c averaged over the masked steps and trials (nats), and ``score`` the
fraction of trials whose mean logits over the decision period pick the target class. The
default ``objective="mse"`` keeps 1 output and the masked MSE. (The option is not called
``loss``: that name is the task's method.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .base import Batch, Task, expand_middle, register_task

OBJECTIVES = ("mse", "ce")


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
    objective: str = "mse"
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
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES} (masked MSE of one output, "
                             f"or 3-class cross-entropy), got {self.objective!r}")

    @property
    def n_in(self) -> int:
        return 4

    @property
    def n_out(self) -> int:
        return 3 if self.objective == "ce" else 1

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
        targets = torch.zeros(T, batch_size, self.n_out)
        mask = torch.zeros(T, batch_size, self.n_out)
        if self.objective == "ce":
            choice = (cued > 0).long() + 1  # 1 = left, 2 = right
            targets[dec:, torch.arange(batch_size), choice] = 1.0
            if self.fixate:
                targets[:off, :, 0] = 1.0
        else:
            targets[dec:] = (torch.sign(cued) * self.target_amplitude)[:, None]
        mask[dec:] = 1.0
        if self.fixate:
            mask[:off] = 1.0
        return Batch(inputs, targets, mask, {"condition": context, "context": context,
                                             "coherence": coh})

    def loss(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Masked MSE (``objective="mse"``), or the 3-class softmax cross-entropy averaged over
        the masked steps and trials (``"ce"``): outputs [T, E, B, O] → [E]."""
        if self.objective != "ce":
            return super().loss(outputs, batch)
        return cross_entropy(outputs, batch.targets, batch.mask)

    def options(self) -> dict:
        """The options that rebuild this task; ``objective`` only where it is not the default
        (runs saved before the option existed stay resumable: the resume check compares the
        saved task options key by key)."""
        options = super().options()
        if options["objective"] == "mse":
            del options["objective"]
        return options

    def ideal_outputs(self, batch: Batch) -> Tensor:
        """The targets (MSE), or logits 20·(one-hot) (CE: loss ≈ 2e^{-20} per step)."""
        return batch.targets * 20.0 if self.objective == "ce" else batch.targets

    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Fraction of trials whose mean output over the decision period has the target's sign
        (CE: whose mean logits pick the target class)."""
        dec = self._edges()[2]
        if self.objective == "ce":
            choice = outputs[dec:].mean(0).argmax(-1)  # [..., B]
            want = expand_middle(batch.targets[-1:].argmax(-1), choice[None])[0]
            return (choice == want).to(outputs.dtype).mean(-1)
        choice = torch.sign(outputs[dec:].mean(0))  # [..., B, 1]
        want = expand_middle(torch.sign(batch.targets[dec:].mean(0))[None], choice[None])[0]
        return (choice == want).to(outputs.dtype).flatten(-2).mean(-1)


def cross_entropy(outputs: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """Σ_{t,b} m[t,b] · (−Σ_c y*_c log softmax(y)_c) / Σ_{t,b} m[t,b] per ensemble member.

    Args:
        outputs: [T, ..., B, C] logits (``...``: the ensemble axis E, or none).
        targets: [T, B, C] class probabilities (one-hot), or [T, ..., B, C] like ``outputs``.
        mask: [T, B, C] step weights (the same on every class channel; channel 0 is read).

    Returns:
        [...] (e.g. [E]): with one-hot targets, ``torch.nn.functional.cross_entropy`` over the
        masked steps (mean reduction) of each member.
    """
    logp = torch.log_softmax(outputs, dim=-1)
    y = targets.to(device=logp.device, dtype=logp.dtype)
    if y.dim() < logp.dim():
        y = expand_middle(y, logp)
    nll = -(y * logp).sum(-1)  # [T, ..., B]
    w = expand_middle(mask[..., 0].to(device=logp.device, dtype=logp.dtype), nll)
    return (nll * w).sum(-1).sum(0) / w.sum(-1).sum(0).clamp_min(1e-12)
