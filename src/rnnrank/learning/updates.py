"""One parameter update: the optimiser and schedule of a run, per-member clipping, hook terms."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..ensemble import with_members, without_members
from .config import TrainConfig
from .schedule import make_scheduler


def make_optimizer(model: nn.Module, config: TrainConfig):
    """(optimiser over the trainable parameters, learning-rate scheduler or None)."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise ValueError("the model has no trainable parameter; set trainable=(...)")
    opt = (torch.optim.Adam if config.optimizer == "adam" else torch.optim.SGD)(
        trainable, lr=config.lr)
    return opt, make_scheduler(opt, warmup=config.lr_warmup, schedule=config.lr_schedule,
                               steps=config.steps)


def with_hook_gradients(hooks, model: nn.Module, grads: dict[str, Tensor], batch,
                        step: int) -> dict[str, Tensor]:
    """The rule's gradients plus every hook's extra terms (a regulariser's gradient)."""
    for hook in hooks:
        for name, g in hook.extra_gradients(model, batch, step).items():
            grads = {**grads, name: grads[name] + g if name in grads else g}
    return grads


def apply_update(model: nn.Module, opt, scheduler, grads: dict[str, Tensor], *,
                 grad_clip: float | None) -> None:
    """Set the gradients (each member's clipped to ``grad_clip``), step the optimiser and the
    schedule."""
    params = dict(model.named_parameters())
    if grad_clip is not None:
        grads = clip_per_member(grads, grad_clip, model.ensemble_size, model.is_ensemble)
    for name, g in grads.items():
        params[name].grad = g.reshape(params[name].shape).to(params[name].dtype)
    opt.step()
    opt.zero_grad(set_to_none=True)
    if scheduler is not None:
        scheduler.step()


def clip_per_member(grads: dict[str, Tensor], max_norm: float, E: int, ensemble: bool):
    """Scale each member's gradient so that its norm (over all its parameters) ≤ max_norm."""
    grads_e = {k: with_members(g, ensemble) for k, g in grads.items()}
    sq = sum(g.reshape(E, -1).pow(2).sum(1) for g in grads_e.values())
    scale = (max_norm / (sq.sqrt() + 1e-12)).clamp(max=1.0)
    return {k: without_members(g * scale.reshape(-1, *[1] * (g.dim() - 1)), ensemble)
            for k, g in grads_e.items()}
