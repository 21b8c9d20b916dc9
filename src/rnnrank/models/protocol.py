"""What the trainer, the learning rules and the analyses may call on a model.

``TrainableModel`` is a structural protocol (nothing to inherit): ``RateRNN`` and ``LSTMNet``
satisfy it, and so does any user model with these members. ``missing_members`` names what a model
lacks, so ``rr.train`` can say what to add instead of failing deep inside the loop.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class TrainableModel(Protocol):
    """A model ``rr.train`` can train and record.

    Attributes:
        config: frozen options with ``n_in``, ``n_out`` and ``to_dict()`` (saved with the run;
            ``dt`` too for models with a time step, checked against the task's).
        ensemble_size: E, the number of networks trained at once (1 for a single network).
        is_ensemble: whether parameters carry the leading E axis.
    """

    config: Any
    ensemble_size: int
    is_ensemble: bool

    def run(self, inputs: Tensor, *, noise: Tensor | None = None,
            grad: bool = True) -> tuple[Tensor, Tensor]:
        """inputs [T, B, I] (or [T, E, B, I]) → (outputs [T, E, B, O], states [·, E, B, ·])."""

    def recorded_parameters(self) -> dict[str, Tensor]:
        """Parameters a trajectory records, ``"W"`` (the recurrent matrix) first."""

    def draw_noise(self, steps: int, batch_size: int,
                   generator: torch.Generator | None) -> Tensor | None:
        """The model's private randomness for one batch (None when it has none)."""


REQUIRED = ("config", "ensemble_size", "is_ensemble", "run", "recorded_parameters",
            "draw_noise")


def missing_members(model: object) -> list[str]:
    """Members of ``TrainableModel`` that ``model`` lacks (empty when it satisfies it)."""
    return [name for name in REQUIRED if not hasattr(model, name)]


@runtime_checkable
class DynamicalModel(Protocol):
    """A model whose dynamics ``rr.dynamics`` can analyse (Lyapunov spectra, fixed points).

    ``system(dtype=None)`` returns a ``rnnrank.models.system.System``: the step x ← F(x, u) on
    states [E, B, D], tangent products and the Jacobian, with parameters detached.
    """

    def system(self, *, dtype: torch.dtype | None = None) -> Any:
        """The model's dynamical system (``rnnrank.models.system.System``)."""
