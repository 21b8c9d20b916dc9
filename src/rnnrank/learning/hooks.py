"""Training hooks: what acts beside the learning rule inside the one training loop.

A hook can run phases of its own between the rule's updates (gradient flossing's pre-training and
interleaved bursts, Engelken 2023) and/or add gradient terms to the rule's estimates (the loss of
a regulariser). It is registered by name (``@register_hook("flossing")``) so a run's configuration
names it, carries options saved in config.yaml, draws randomness from the generator the trainer
gives it (seeded by the run's seed), and saves its state in every checkpoint so a resumed run
equals an uninterrupted one.

Order within one update k of ``rr.train``: checkpoint (every ``checkpoint_every``) →
``before_update(model, k)`` of each hook → batch → rule's gradients + each hook's
``extra_gradients`` → optimiser step.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn

from ..registry import Registry
from ..tasks.base import Batch, Task


class TrainingHook:
    """Base of hooks; every method has a do-nothing default, override what the hook needs."""

    name: ClassVar[str] = ""
    # Loss terms the hook reports (``loss_terms``), written as metrics.csv columns
    # ``<hook name>.<term>`` beside the rule's loss.
    loss_names: ClassVar[tuple[str, ...]] = ()

    def init(self, model: nn.Module, generator: torch.Generator, task: Task | None = None) -> None:
        """Called once per run, before a resume's ``load_state_dict``. ``task`` is the run's task
        (a hook that needs trials samples them with its own generator, drawn from this one)."""

    def before_update(self, model: nn.Module, step: int) -> None:
        """Called before update ``step``; may change the model's parameters in place."""

    def extra_gradients(self, model: nn.Module, batch: Batch, step: int) -> dict[str, Tensor]:
        """Gradient terms added to the rule's, named and shaped like the model's parameters."""
        return {}

    def loss_terms(self, step: int) -> dict[str, float]:
        """Values of ``loss_names`` at update ``step`` (after ``before_update`` and
        ``extra_gradients``); a term absent at this step is logged as empty."""
        return {}

    def options(self) -> dict:
        """Constructor options, saved with the run."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        if state:
            raise ValueError(f"hook {self.name!r} has no state, got keys {sorted(state)}")


HOOKS: Registry[TrainingHook] = Registry("training hook")
register_hook = HOOKS.register  # class decorator registering a TrainingHook under a name


def hook_config(hooks: list[TrainingHook]) -> list[dict]:
    """What config.yaml records of the hooks: ``[{"name": ..., **options}, ...]``."""
    return [{"name": h.name, **h.options()} for h in hooks]


def make_hook(spec: dict) -> TrainingHook:
    """Rebuild a hook from its ``hook_config`` entry."""
    spec = dict(spec)
    return HOOKS.get(spec.pop("name"))(**spec)
