"""Learning rules: turn (model, batch) into a loss and gradient estimates.

The trainer owns the rest.

A rule is a class registered by name (``@register_rule("bptt")``) and built by
``make_rule(name, **options)``. ``gradients`` returns a ``RuleResult`` whose ``grads`` are named
like the model's parameters and shaped like them; the trainer writes them into ``.grad`` and steps
the optimiser. Rules with state (fixed random feedback matrices, eligibility traces carried across
trials) implement ``state_dict``/``load_state_dict`` so runs resume exactly.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from ..registry import Registry
from ..tasks.base import Batch

LossFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class RuleResult:
    """What a rule returns for one batch.

    Attributes:
        loss: [E] loss per ensemble member at the current parameters.
        grads: gradient estimates named like ``model.named_parameters()``, in their shapes.
        outputs: [T, E, B, O] network outputs (detached), for scoring.
    """

    loss: Tensor
    grads: dict[str, Tensor]
    outputs: Tensor


class LearningRule(ABC):
    """Abstract base: implement ``gradients``; list constructor options as keyword arguments.

    State and randomness are explicit: ``init(model, generator)`` is called once when a run starts
    (draw fixed random feedback matrices from ``generator``, which the trainer seeds from the
    run's seed); ``state_dict``/``load_state_dict`` carry that state through checkpoints.
    """

    name: ClassVar[str] = ""

    def init(self, model: nn.Module, generator: torch.Generator) -> None:
        """Prepare for ``model`` (e.g. draw random feedback); the default needs nothing."""
        return None

    @abstractmethod
    def gradients(
        self, model: nn.Module, batch: Batch, *, loss_fn: LossFn, noise: Tensor | None
    ) -> RuleResult:
        """Loss and gradient estimates for ``batch`` (already on the model's device/dtype).

        ``loss_fn`` maps outputs [T, E, B, O] to the loss per member [E]; ``noise`` holds the
        model's standard-normal private noise draws for this batch (or None).
        """

    def supports(self, model: nn.Module) -> bool:
        """Whether the rule can train ``model`` (e.g. e-prop needs a rate network's step)."""
        return True

    def options(self) -> dict:
        """Constructor options, saved with the run."""
        return {}

    def state_dict(self) -> dict[str, Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        if state:
            raise ValueError(f"rule {self.name!r} has no state, got keys {sorted(state)}")


RULES: Registry[LearningRule] = Registry("learning rule")
register_rule = RULES.register  # class decorator registering a LearningRule under a name
available_rules = RULES.names


def make_rule(name: str | LearningRule, **options) -> LearningRule:
    """Build a registered rule; unknown names or options raise ``ValueError`` with the choices."""
    if isinstance(name, LearningRule):
        if options:
            raise ValueError("pass options to the rule's constructor, not alongside an instance")
        return name
    cls = RULES.get(name)
    valid = set(inspect.signature(cls.__init__).parameters) - {"self"}
    unknown = set(options) - valid
    if unknown:
        raise ValueError(f"unknown option(s) {sorted(unknown)} for rule {name!r}; "
                         f"valid options: {sorted(valid)}")
    return cls(**options)


def autograd_gradients(
    model: nn.Module, batch: Batch, *, loss_fn: LossFn, noise: Tensor | None, **run_options
) -> RuleResult:
    """Generic BPTT by autograd through ``model.run`` — works for any model with that method."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    with torch.enable_grad():
        outputs, _ = model.run(batch.inputs, noise=noise, grad=True, **run_options)
        loss = loss_fn(outputs)
        values = torch.autograd.grad(loss.sum(), [p for _, p in named], allow_unused=True)
    grads = {n: torch.zeros_like(p) if g is None else g
             for (n, p), g in zip(named, values, strict=True)}
    return RuleResult(loss.detach(), grads, outputs.detach())
