"""What a task is: a sampler of trials (``Batch``) and a scorer of outputs.

A task is a frozen dataclass whose fields are its options (so it is saved with a run and rebuilt
by ``rnnrank.tasks.make(name, **options)``). Add one by subclassing ``Task`` in its own module and
decorating it with ``@register_task("name")``.

Timings are in the model's time units (τ = 1 in every paper rnnrank reproduces); ``dt`` is the
Euler step and must equal the model's dt (``rr.train`` checks).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import Tensor

from ..registry import Registry
from .options import coerce


@dataclass(frozen=True)
class Batch:
    """A batch of trials, time first.

    Attributes:
        inputs: [T, B, I] (or [T, E, B, I], one batch per ensemble member).
        targets: [T, B, O] desired outputs (of the effector, see ``Task.effector``).
        mask: [T, B, O] loss weights, 1 where the target counts, 0 elsewhere.
        info: per-trial metadata (e.g. ``condition [B]``), tensors with the batch on axis 0.
    """

    inputs: Tensor
    targets: Tensor
    mask: Tensor
    info: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.targets.shape != self.mask.shape:
            raise ValueError(f"targets {tuple(self.targets.shape)} and mask "
                             f"{tuple(self.mask.shape)} must have the same shape")
        if self.inputs.shape[0] != self.targets.shape[0]:
            raise ValueError(f"inputs have {self.inputs.shape[0]} time steps, targets "
                             f"{self.targets.shape[0]}")

    @property
    def n_steps(self) -> int:
        return self.inputs.shape[0]

    @property
    def batch_size(self) -> int:
        return self.inputs.shape[-2]

    def to(self, device=None, dtype=None) -> Batch:
        """Move every tensor; floating tensors also take ``dtype``."""
        def move(x: Tensor) -> Tensor:
            return x.to(device=device, dtype=dtype if x.is_floating_point() else None)
        return Batch(move(self.inputs), move(self.targets), move(self.mask),
                     {k: v.to(device) for k, v in self.info.items()})


class Task(ABC):
    """Abstract base of tasks. Subclasses are frozen dataclasses with a ``dt`` field."""

    name: ClassVar[str] = ""
    score_name: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True
    dt: float

    @property
    @abstractmethod
    def n_in(self) -> int: ...

    @property
    @abstractmethod
    def n_out(self) -> int: ...

    @abstractmethod
    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> Batch:
        """Draw ``batch_size`` trials (CPU tensors, float32) using ``generator``."""

    @abstractmethod
    def score(self, outputs: Tensor, batch: Batch) -> Tensor:
        """Task performance of network outputs [T, ..., B, O]; returns one value per leading index.

        ``score_name`` says what it is (``"accuracy"`` in [0, 1] or ``"normalised_error"``,
        0 = perfect); ``higher_is_better`` which way is good.
        """

    def loss(self, outputs: Tensor, batch: Batch) -> Tensor:
        """The training loss of network outputs [T, E, B, O] on ``batch``, one value per member
        [E]: by default the masked MSE of the effector's output against the targets. A task with
        another objective overrides it; ``rr.train(..., loss=fn)`` overrides it for one run."""
        return masked_mse(self.effector(outputs), batch.targets, batch.mask)

    def effector(self, outputs: Tensor) -> Tensor:
        """Map network outputs to what the targets describe (identity; ``reach`` moves a hand)."""
        return outputs

    def ideal_outputs(self, batch: Batch) -> Tensor:
        """Network outputs that solve the batch perfectly (used by tests): the targets here."""
        return batch.targets

    def options(self) -> dict:
        """The options that rebuild this task with ``make(self.name, **options)``."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def steps(self, duration: float) -> int:
        """Number of Euler steps in ``duration`` time units (at least 1)."""
        return max(1, int(round(duration / self.dt)))


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Σ mask·values / Σ mask over the last three axes [T, B, O] → leading axes [...].

    ``values`` is [T, ..., B, O]; ``mask`` [T, B, O] broadcasts over the middle axes.
    """
    while mask.dim() < values.dim():
        mask = mask.unsqueeze(1)
    num = (values * mask).flatten(-2).sum(-1).sum(0)
    den = mask.flatten(-2).sum(-1).sum(0).clamp_min(1e-12)
    return num / den


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


def expand_middle(x: Tensor, like: Tensor) -> Tensor:
    """Insert axes after time so ``x`` [T, B, ·] broadcasts against ``like`` [T, ..., B, ·]."""
    x = x.to(like.device)
    while x.dim() < like.dim():
        x = x.unsqueeze(1)
    return x


def normalised_error(values: Tensor, targets: Tensor, mask: Tensor) -> Tensor:
    """Masked MSE of ``values`` [T, ..., B, O] against ``targets`` [T, B, O], divided by the masked
    variance of the targets (0 = perfect, 1 = as bad as outputting the targets' mean); [...]."""
    mask = mask.to(values.device)
    t = targets.to(device=values.device, dtype=values.dtype)
    mse = masked_mean((values - expand_middle(t, values)) ** 2, mask)
    centre = masked_mean(t, mask)
    var = masked_mean((t - centre) ** 2, mask)
    return mse / var.clamp_min(1e-12)


TASKS: Registry[Task] = Registry("task")
register_task = TASKS.register  # class decorator: make a Task subclass available by name
available_tasks = TASKS.names


def make(name: str, **options) -> Task:
    """Build a registered task, e.g. ``make("flipflop", n_bits=3, dt=0.2)``.

    Raises:
        ValueError: unknown task name or option, with the valid choices; an option of the
            wrong type, with the type it expects and an example.
    """
    cls = TASKS.get(name)
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = set(options) - valid
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for task {name!r}; "
                         f"valid options: {sorted(valid)}")
    # YAML/JSON values (lists for tuples, ints for floats, '1e-3' strings) to the field types;
    # a value of the wrong type is refused here, naming the option, not deep in the task.
    return cls(**coerce(cls, options, what=f"task {name!r}"))
