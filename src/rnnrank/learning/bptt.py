"""Backpropagation through time, the reference learning rule.

A model class may register a hand-derived backward pass (``register_adjoint(RateRNN, fn)``:
``rate_bptt`` does, exact, no autograd graph, several times faster); ``backward="auto"`` uses the
one registered for the model's class (or a base class) and autograd through ``model.run``
otherwise; ``backward="autograd"`` forces the latter. ``truncation=k`` gives truncated BPTT (state
detached every k steps) through either path.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..tasks.base import Batch
from .adjoints import find_adjoint
from .rate_bptt import Workspace
from .rules import LearningRule, LossFn, RuleResult, autograd_gradients, register_rule

BACKWARDS = ("auto", "adjoint", "autograd")


@register_rule("bptt")
class BPTT(LearningRule):
    """Exact (or truncated) gradient of the task loss.

    Args:
        truncation: window k of truncated BPTT; None for full BPTT.
        backward: ``"auto"`` (the model's registered adjoint if any, autograd otherwise),
            ``"adjoint"`` or ``"autograd"``.
    """

    def __init__(self, truncation: int | None = None, backward: str = "auto") -> None:
        if truncation is not None and (not isinstance(truncation, int) or truncation < 1):
            raise ValueError(f"truncation must be a positive integer or None, got {truncation!r}")
        if backward not in BACKWARDS:
            raise ValueError(f"backward must be one of {BACKWARDS}, got {backward!r}")
        self.truncation = truncation
        self.backward = backward
        self._workspace = Workspace()

    def options(self) -> dict:
        return {"truncation": self.truncation, "backward": self.backward}

    def gradients(
        self, model: nn.Module, batch: Batch, *, loss_fn: LossFn, noise: Tensor | None
    ) -> RuleResult:
        adjoint = None if self.backward == "autograd" else find_adjoint(model)
        if self.backward == "adjoint" and adjoint is None:
            raise ValueError(f"backward='adjoint' needs a model with a registered adjoint "
                             f"(RateRNN), got {type(model).__name__}; use backward='autograd'")
        if adjoint is not None:
            loss, grads, outputs = adjoint(model, batch.inputs, loss_fn, noise=noise,
                                           truncation=self.truncation,
                                           workspace=self._workspace)
            return RuleResult(loss, grads, outputs)
        extra = {"detach_every": self.truncation} if self.truncation else {}
        return autograd_gradients(model, batch, loss_fn=loss_fn, noise=noise, **extra)
