"""Fit a low-tensor-rank RNN to a recording: ``fit_ltr(rec, rank, ...) -> Fit``.

Method of Pellegrino, Cayco-Gajic & Chadwick (2023, NeurIPS): the network of ``ltr_model``
(J(k) = Σ_r c_r(k) â_r b̂_rᵀ with GP-smooth trial factors, condition-specific initial states and
preparatory inputs, a semi-orthogonal readout with a learned gain) is fitted by Adam on all
trials at once,
minimising the loss of ``likelihoods`` over the training entries plus an activity regulariser

    L = mean_train ℓ(y, η) / s + λ_act (mean x² + mean (U v)²)

(s = the training data's variance for MSE, so that the loss is a normalised MSE; 1 otherwise).
Early stopping: a validation split of the training entries (held-out blocks, ``masks``) is
evaluated every ``eval_every`` iterations; the best parameters are kept and the fit stops after
``patience`` iterations without improvement. Several seeds may be fitted; the best on
validation is kept. Entries outside the training mask never enter the loss (they are replaced
by zeros before any arithmetic), so held-out data cannot influence the fit.

Options may be given as ``options=FitOptions(...)`` or as its fields directly::

    fit = fit_ltr(rec, rank=3, max_iter=500)            # = options=FitOptions(max_iter=500)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from ..nonlinearities import get_nonlinearity
from . import gp as gp_
from . import likelihoods as lik
from . import ltr_model as lm
from .fit import Fit
from .masks import block_masks
from .optimise import OPTION_NAMES, optimise, resolve_options
from .optimise import FitOptions as FitOptions
from .recording import Recording


def fit_ltr(rec: Recording, rank: int, *, n_rec: int = 100, loss: str = "mse", seed: int = 0,
            n_seeds: int = 1, alpha: float = 0.2, n_prep: int = 5, inputs: str = "span",
            readout: str = "scaled", nonlinearity: str = "tanh",
            initial_state: str = "condition",
            gp: gp_.GPConfig | None = None, train_mask: Tensor | None = None,
            options: FitOptions | None = None, dtype: torch.dtype = torch.float32,
            init: Fit | dict[str, Tensor] | None = None,
            progress: Callable[[int, float], None] | None = None, **option_kw) -> Fit:
    """Fit W(k) = Σ_r c_r(k) a_r b_rᵀ to a recording (see module docstring).

    Args:
        rec: the recording, data [T, K, n].
        rank: R ≥ 1, number of tensor components.
        n_rec: N, neurons of the fitted network (≥ rank).
        loss: ``"mse"`` (z-scored rates), ``"poisson"`` (counts) or ``"gamma"`` (positive rates).
        seed, n_seeds: seeds ``seed … seed + n_seeds − 1`` are fitted; the best on validation
            is kept.
        alpha: dt/τ of the fitted dynamics per recorded bin.
        n_prep: steps of preparatory period before the first bin (inputs act there and at
            times < 0).
        inputs: ``"span"`` (inputs in span{a_r}, the paper's) or ``"free"``.
        readout: ``"scaled"`` (default: D = γ Q, Q [n, N] semi-orthogonal, γ a learned scalar
            gain — LtrRNN's ``OrthogonalScaled``; it reaches data of any scale),
            ``"orthogonal"`` (D = Q without gain, the paper's: with a bounded φ it produces at
            most √N · max|φ| per bin, so z-scored data of n > N units are out of its reach — a
            UserWarning says so) or ``"free"`` (D unconstrained).
        initial_state: ``"condition"`` (one s0 per condition) or ``"shared"`` (one for all
            trials, as the reference code).
        gp: the trial factors' kernel (``GPConfig``; ℓ = 15 trials by default).
        train_mask: bool [T, K, n], entries the fit may see (default: all observed).
        options: ``FitOptions`` (lr, max_iter, activity_reg, early stopping); its fields may
            also be passed as keywords (``max_iter=500``), not both with different values.
        dtype: float32 (fast) or float64.
        init: start from these parameters (a ``Fit`` of the same rank, n_rec and recording
            shape, or its ``params``) instead of a random draw — the nested fit: an ltrRNN
            warm-started from a trial-invariant fit (``options.frozen=("Z",)``) begins at that
            fit's predictions (Z = 0, c = μ) and can only add learning to it.
        progress: called as progress(iteration, validation loss) at each evaluation.
        option_kw: ``FitOptions`` fields (lr, max_iter, activity_reg, val_fraction,
            eval_every, patience, frozen).

    Returns:
        a ``Fit`` with factors, weights(k), predict(), train_error and test_error (normalised
        deviance on the entries outside ``train_mask``; NaN when there are none).
    """
    if not isinstance(rec, Recording):
        raise TypeError(f"rec must be a Recording, got {type(rec).__name__}")
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be an integer ≥ 1, got {rank!r}")
    opts = resolve_options(options, option_kw, where="fit_ltr")
    if option_kw:
        raise TypeError(f"fit_ltr: unknown keyword(s) {sorted(option_kw)}; expected fit_ltr's "
                        f"arguments or FitOptions fields {OPTION_NAMES}")
    lik.check_loss(loss, rec.data[rec.observed()])
    cfg = lm.ModelConfig(rank=rank, n_rec=int(n_rec), alpha=alpha, n_prep=n_prep,
                         inputs=inputs, readout=readout, nonlinearity=nonlinearity,
                         initial_state=initial_state)
    gp = gp or gp_.GPConfig()
    observed = rec.observed()
    train = observed if train_mask is None else (train_mask.to(torch.bool) & observed)
    if tuple(train.shape) != rec.shape:
        raise ValueError(f"train_mask: expected shape {rec.shape}, got {tuple(train.shape)}")
    if not bool(train.any()):
        raise ValueError("train_mask selects no observed entry")
    reach = _readout_reach(rec, train, cfg) if loss == "mse" else None
    if reach is not None and cfg.readout == "orthogonal" and reach[0] > reach[1]:
        warnings.warn(f"readout='orthogonal' produces at most √N·max|φ| = {reach[1]:.3g} per bin "
                      f"but the data's RMS norm per bin is {reach[0]:.3g}: the fit cannot reach "
                      "the data; fix: readout='scaled' (the default), a larger n_rec, or smaller "
                      "data", UserWarning, stacklevel=2)
    L = gp_.cholesky_factor(rec.trial_id, gp, rec.epoch)
    best = None
    for s in range(seed, seed + n_seeds):
        if opts.val_fraction > 0:
            fit_mask, val = block_masks(rec.shape, fraction=opts.val_fraction, seed=10_000 + s,
                                        within=train)
            if not bool(val.any()):
                fit_mask, val = train, None
        else:
            fit_mask, val = train, None
        p0 = lm.init_params(cfg, n_trials=rec.shape[1], n_out=rec.shape[2],
                            n_cond=rec.n_conditions,
                            n_steps_in=lm.n_input_steps(cfg, rec.times), seed=s, dtype=dtype)
        if loss != "mse":
            p0["d"] = _inverse_softplus(_neuron_means(rec.data, fit_mask)).to(dtype)
        if cfg.readout == "scaled" and reach is not None and reach[0] > 0:
            # γ0 = (data's RMS norm per bin) / (√N max|φ|): the gain at which the readout of
            # saturated rates just reaches the data. It is proportional to the data's scale, so
            # a fit of s·y starts where the fit of y does with γ → s γ (the loss is normalised
            # by the data's variance and Adam's steps are scale-free): the result does not
            # depend on the data's units. Not larger: the first rates φ(x) are small and
            # untrained, and amplifying them to the data's RMS would start from a large wrong
            # prediction. (γ0 = 1, LtrRNN's, would cap z-scored data of n ≫ N units at the
            # start and leave the gain to grow by Adam's ~lr per step.)
            p0["log_gain"] = torch.tensor(math.log(reach[0] / reach[2]), dtype=dtype)
        if init is not None:
            p0 = _warm_start(p0, init)
        params, score, iters = optimise(p0, cfg, L, rec, fit_mask, val, loss, opts, progress)
        if best is None or score < best[1]:
            best = (params, score, iters, s)
    params, score, iters, s = best
    return Fit(cfg=cfg, loss=loss, gp=gp, params=params, recording=rec, train_mask=train,
               val_loss=score, iterations=iters, seed=s)


def _phi_bound(nonlinearity: str) -> float:
    """max |φ| (inf for an unbounded φ), read off φ at ±1e6 (the registered φ are monotone)."""
    phi = get_nonlinearity(nonlinearity)
    b = float(phi.f(torch.tensor([-1e6, 1e6], dtype=torch.float64)).abs().max())
    return b if b < 1e3 else math.inf


def _readout_reach(rec: Recording, train: Tensor,
                   cfg: lm.ModelConfig) -> tuple[float, float, float]:
    """(RMS norm per bin of the training data about each neuron's mean — the part of the data
    the readout D φ must produce, d giving the means —; √N · max|φ|, the largest norm per bin a
    semi-orthogonal D without gain can produce (inf for an unbounded φ); √N · max|φ| with
    max|φ| taken as 1 for an unbounded φ, the unit of the initial gain)."""
    w = train.to(torch.float64)
    y = torch.where(train, rec.data.double(), torch.zeros((), dtype=torch.float64))
    count = w.sum(dim=(0, 1)).clamp_min(1.0)
    centred = (y - (y * w).sum(dim=(0, 1)) / count) * w
    rms = math.sqrt(float((centred ** 2).sum() / w.sum().clamp_min(1.0)) * rec.shape[2])
    bound = _phi_bound(cfg.nonlinearity)
    unit = math.sqrt(cfg.n_rec) * (bound if math.isfinite(bound) else 1.0)
    return rms, math.sqrt(cfg.n_rec) * bound, unit


def _warm_start(p0: dict[str, Tensor], init) -> dict[str, Tensor]:
    """``init``'s parameters in place of p0's (same names and shapes required)."""
    src = init.params if hasattr(init, "params") else init
    out = {}
    for k, v in p0.items():
        if k not in src or tuple(src[k].shape) != tuple(v.shape):
            got = tuple(src[k].shape) if k in src else "missing"
            raise ValueError(f"init: parameter {k!r} must have shape {tuple(v.shape)} (same rank, "
                             f"n_rec, recording and options), got {got}")
        out[k] = src[k].detach().to(v.dtype).clone()
    return out


def _neuron_means(data: Tensor, mask: Tensor) -> Tensor:
    w = mask.to(torch.float64)
    return (data.double() * w).sum(dim=(0, 1)) / w.sum(dim=(0, 1)).clamp_min(1.0)


def _inverse_softplus(m: Tensor) -> Tensor:
    m = m.clamp_min(1e-3)
    return m + torch.log(-torch.expm1(-m))


def transform(fit: Fit, rec: Recording, **kw) -> Fit:
    """``fit.transform(rec, **kw)``: trial factors of new trials, directions frozen."""
    return fit.transform(rec, **kw)


def fit_many(rec: Recording, ranks: Sequence[int], **kw) -> dict[int, Fit]:
    """``fit_ltr`` at several ranks (same options)."""
    return {r: fit_ltr(rec, r, **kw) for r in ranks}
