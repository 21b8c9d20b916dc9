"""Feedback alignment of the readout error on top of BPTT (Lillicrap et al. 2016, Nat. Commun.
7:13276), as the Liu lab uses it beside e-prop and RFLO.

The output error e[t] = ∂L/∂y[t] enters the network through a fixed random matrix B [E, N, O]
instead of Vᵀ; from there it is backpropagated through time exactly (``rate_bptt`` with
``feedback=B``), optionally truncated (``truncation=k``). The readout V gets its exact gradient.
B ~ U(−1/√N, 1/√N) (the Liu lab's draw), drawn from the run's generator in ``init`` and kept
in the rule's state so runs resume exactly. With B = Vᵀ this is BPTT.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..models.rate_rnn import RateRNN
from ..tasks.base import Batch
from . import online
from .rate_bptt import Workspace, rate_bptt
from .rules import LearningRule, LossFn, RuleResult, register_rule


def draw_uniform_feedback(model: RateRNN, generator: torch.Generator) -> Tensor:
    """B [E, N, O] with entries U(−1/√N, 1/√N), one matrix per ensemble member."""
    E, N, O = model.ensemble_size, model.n_rec, model.config.n_out
    bound = 1.0 / math.sqrt(N)
    B = (torch.rand(E, N, O, generator=generator, dtype=torch.float64) * 2 - 1) * bound
    return B.to(dtype=model.W.dtype, device=model.W.device)


@register_rule("fa")
class FeedbackAlignment(LearningRule):
    """BPTT with the output error sent back through a fixed random B (see module docstring).

    Args:
        truncation: window k of truncated BPTT; None for full BPTT.
    """

    def __init__(self, truncation: int | None = None) -> None:
        if truncation is not None and (not isinstance(truncation, int) or truncation < 1):
            raise ValueError(f"truncation must be a positive integer or None, got {truncation!r}")
        self.truncation = truncation
        self.B: Tensor | None = None
        self._workspace = Workspace()

    def supports(self, model: nn.Module) -> bool:
        """The feedback path is the rate network's adjoint: a ``RateRNN`` only."""
        return isinstance(model, RateRNN)

    def init(self, model: nn.Module, generator: torch.Generator) -> None:
        self.B = draw_uniform_feedback(online.require_rate_rnn(model, self.name), generator)

    def gradients(
        self, model: nn.Module, batch: Batch, *, loss_fn: LossFn, noise: Tensor | None
    ) -> RuleResult:
        model = online.require_rate_rnn(model, self.name)
        if self.B is None:
            raise ValueError("rule 'fa' has no feedback matrix yet: call rule.init(model, "
                             "generator) first (rr.train does)")
        B = self.B.to(dtype=model.W.dtype, device=model.W.device)
        loss, grads, outputs = rate_bptt(model, batch.inputs, loss_fn, noise=noise,
                                         truncation=self.truncation, feedback=B,
                                         workspace=self._workspace)
        return RuleResult(loss, grads, outputs)

    def options(self) -> dict:
        return {"truncation": self.truncation}

    def state_dict(self) -> dict[str, Tensor]:
        return {} if self.B is None else {"feedback": self.B.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        unknown = set(state) - {"feedback"}
        if unknown:
            raise ValueError(f"rule 'fa' state has unknown keys {sorted(unknown)}")
        if "feedback" in state:
            self.B = state["feedback"].clone()
