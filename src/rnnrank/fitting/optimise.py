"""Adam on a low-tensor-rank fit's raw parameters, with early stopping on held-out entries.

Shared by ``fit_ltr`` (new fits) and ``Fit.transform`` (trial factors of new trials with the
directions frozen); it knows the model (``ltr_model``), never the ``Fit`` object.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import torch
from torch import Tensor

from . import likelihoods as lik
from . import ltr_model as lm
from .recording import Recording


@dataclass(frozen=True)
class FitOptions:
    """Optimisation settings of ``fit_ltr`` (defaults in the module docstring's spirit)."""

    lr: float = 0.05
    max_iter: int = 1500
    activity_reg: float = 0.01
    val_fraction: float = 0.1
    eval_every: int = 10
    patience: int = 150
    frozen: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.lr <= 0 or self.max_iter < 1 or self.eval_every < 1 or self.patience < 1:
            raise ValueError(f"FitOptions: need lr > 0, max_iter ≥ 1, eval_every ≥ 1, patience "
                             f"≥ 1; got lr={self.lr}, max_iter={self.max_iter}, eval_every="
                             f"{self.eval_every}, patience={self.patience}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


OPTION_NAMES = tuple(f.name for f in fields(FitOptions))


def resolve_options(options: FitOptions | None, keywords: dict, *, where: str) -> FitOptions:
    """``options`` with the ``FitOptions`` fields named in ``keywords`` applied (popped from it).

    So ``fit_ltr(rec, 3, max_iter=500)`` means ``fit_ltr(rec, 3, options=FitOptions(
    max_iter=500))``. A keyword that differs from the value in an explicit ``options`` is an
    error (which one is meant?); one equal to it is accepted.
    """
    if options is not None and not isinstance(options, FitOptions):
        raise TypeError(f"{where}: options must be a FitOptions, got {type(options).__name__}; "
                        f"fix: options=FitOptions(...) or pass its fields as keywords")
    given = {k: keywords.pop(k) for k in OPTION_NAMES if k in keywords}
    if not given:
        return options or FitOptions()
    if options is not None:
        clash = {k: v for k, v in given.items() if getattr(options, k) != v}
        if clash:
            k, v = next(iter(clash.items()))
            raise ValueError(f"{where}: {k}={v!r} conflicts with options.{k}="
                             f"{getattr(options, k)!r}; fix: pass it in one place only")
        return options
    if "frozen" in given:
        given["frozen"] = tuple(given["frozen"])
    return FitOptions(**given)


def _objective(p, cfg, L, rec_y, cond, mask, loss, scale, act_reg, n_bins):
    c, _, _ = lm.factors(p, L)
    eta, states, drive = lm.predict_eta(p, cfg, c, cond, n_bins)
    per = lik.per_entry(eta, rec_y, loss, p["log_shape"] if loss == "gamma" else None)
    per = torch.where(mask, per, torch.zeros((), dtype=per.dtype))
    data_term = per.sum() / mask.sum().clamp_min(1) / scale
    reg = states.pow(2).mean()
    if drive.numel():
        reg = reg + drive.pow(2).mean()
    return data_term, data_term + act_reg * reg


def optimise(p0: dict[str, Tensor], cfg: lm.ModelConfig, L: Tensor, rec: Recording,
             train: Tensor, val: Tensor | None, loss: str, opts: FitOptions,
             progress: Callable[[int, float], None] | None = None) -> tuple[dict, float, int]:
    """Adam on the raw parameters; returns (best parameters, best validation loss, iterations)."""
    dtype = p0["A"].dtype
    y = torch.where(train | (val if val is not None else train), rec.data,
                    torch.zeros((), dtype=rec.data.dtype)).to(dtype)
    if loss == "mse":
        w = train.to(torch.float64)
        m = (rec.data.double() * w).sum() / w.sum()
        yt = torch.where(train, rec.data.double(), m)
        scale = float(((yt - m) ** 2).sum() / w.sum()) or 1.0
    else:
        scale = 1.0
    params = {k: v.clone().requires_grad_(k not in opts.frozen) for k, v in p0.items()}
    free = [v for k, v in params.items() if k not in opts.frozen]
    optimiser = torch.optim.Adam(free, lr=opts.lr)
    T = rec.shape[0]
    cond = rec.condition
    best, best_val, since, it = None, math.inf, 0, 0
    for it in range(1, opts.max_iter + 1):
        optimiser.zero_grad(set_to_none=True)
        _, total = _objective(params, cfg, L, y, cond, train, loss, scale, opts.activity_reg, T)
        total.backward()
        optimiser.step()
        if it % opts.eval_every == 0 or it == opts.max_iter:
            with torch.no_grad():
                target = val if val is not None else train
                score, _ = _objective(params, cfg, L, y, cond, target, loss, scale, 0.0, T)
            score = float(score)
            if progress is not None:
                progress(it, score)
            if not math.isfinite(score):
                break
            if score < best_val:
                best_val, since = score, 0
                best = {k: v.detach().clone() for k, v in params.items()}
            else:
                since += opts.eval_every
                if since >= opts.patience:
                    break
    if best is None:
        raise FloatingPointError("the fit diverged (non-finite loss) before its first evaluation;"
                                 " lower lr or z-score the data")
    return best, best_val, it
