"""Backpropagation through time, the reference learning rule.

For ``RateRNN`` the default is the hand-derived adjoint pass of ``rate_bptt`` (exact, no autograd
graph, several times faster); ``backward="autograd"`` runs autograd through the per-step loop and is
also the path for every other model. ``truncation=k`` gives truncated BPTT (state detached every
k steps) through either path.
"""

from __future__ import annotations

from torch import Tensor, nn

from ..models.rate_rnn import RateRNN
from ..tasks.base import Batch
from .rate_bptt import Workspace, rate_bptt
from .rules import LearningRule, LossFn, RuleResult, autograd_gradients, register_rule

BACKWARDS = ("auto", "adjoint", "autograd")


@register_rule("bptt")
class BPTT(LearningRule):
    """Exact (or truncated) gradient of the task loss.

    Args:
        truncation: window k of truncated BPTT; None for full BPTT.
        backward: ``"auto"`` (adjoint for ``RateRNN``, autograd otherwise), ``"adjoint"`` or
            ``"autograd"``.
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
        adjoint = self.backward == "adjoint" or (
            self.backward == "auto" and isinstance(model, RateRNN))
        if adjoint:
            if not isinstance(model, RateRNN):
                raise ValueError(f"backward='adjoint' needs a RateRNN, got "
                                 f"{type(model).__name__}; use backward='autograd'")
            loss, grads, outputs = rate_bptt(model, batch.inputs, loss_fn, noise=noise,
                                             truncation=self.truncation,
                                             workspace=self._workspace)
            return RuleResult(loss, grads, outputs)
        extra = {"detach_every": self.truncation} if self.truncation else {}
        return autograd_gradients(model, batch, loss_fn=loss_fn, noise=noise, **extra)
