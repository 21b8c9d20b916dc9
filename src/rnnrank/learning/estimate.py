"""``estimate_gradients``: one rule's gradient estimates for one batch, outside the trainer.

The same ``RuleResult`` the trainer uses (``rules.py``), for any registered rule::

    g = rr.learning.estimate_gradients(model, batch, rule="eprop", feedback="random")
    g.grads["W"]          # shaped like model.W; also "U", "V", "b" (the trainable parameters)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..losses import masked_mse
from ..tasks.base import Batch
from .rules import LearningRule, LossFn, RuleResult, make_rule


def estimate_gradients(
    model: nn.Module,
    batch: Batch,
    *,
    rule: str | LearningRule,
    loss_fn: LossFn | None = None,
    noise: Tensor | None = None,
    seed: int = 0,
    **options,
) -> RuleResult:
    """The rule's loss [E], gradient estimates (named like ``model.named_parameters()``) and
    outputs [T, E, B, O] on ``batch``, without changing the model.

    Args:
        model: a trainable model (``RateRNN`` for every rule; ``LSTMNet`` for ``"bptt"``).
        batch: a ``Batch`` (moved to the model's device and dtype here).
        rule: a registered rule name, or a rule instance already ``init``-ed for this model.
        loss_fn: outputs [T, E, B, O] → loss per member [E]; default the masked MSE against
            ``batch.targets`` (tasks with an effector, like ``reach``, pass their own).
        noise: the model's standard-normal noise draws [T, E, B, N] (None: noiseless run).
        seed: seed of the rule's randomness (random feedback) when ``rule`` is a name.
        **options: the rule's options (``feedback="random"``, ``truncation=10``, ...).
    """
    if isinstance(rule, str):
        rule_obj = make_rule(rule, **options)
        rule_obj.init(model, torch.Generator().manual_seed(seed))
    else:
        if options:
            raise ValueError("pass options to the rule's constructor, not alongside an instance")
        rule_obj = rule
    param = next(model.parameters())
    batch = batch.to(param.device, param.dtype)
    if loss_fn is None:
        def loss_fn(outputs: Tensor) -> Tensor:
            return masked_mse(outputs, batch.targets, batch.mask)
    return rule_obj.gradients(model, batch, loss_fn=loss_fn, noise=noise)
