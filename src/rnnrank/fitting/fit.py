"""``Fit``: a fitted low-tensor-rank RNN and what a user asks of it.

    fit.factors        (c [K, R], a [N, R], b [N, R]): W(k) = Σ_r c_r(k) a_r b_rᵀ, a, b unit-norm
    fit.weights(k)     W(k) [N, N] of fitted trial k (built on demand for one trial only)
    fit.predict()      predicted mean [T, K, n] of the fitted trials
    fit.predict_trials(trial_id, condition)   at new trial positions, c by GP interpolation
    fit.train_error, fit.test_error           normalised deviance (normalised MSE for "mse")
    fit.transform(rec) new trials, a, b, readout and inputs frozen
    fit.save(path), Fit.load(path)            plain tensors and dicts (torch.load weights_only)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from . import gp as gp_
from . import likelihoods as lik
from . import ltr_model as lm
from .masks import block_masks
from .optimise import OPTION_NAMES, optimise, resolve_options
from .recording import FIELDS, Recording


@dataclass
class Fit:
    """A fitted network; built by ``fit_ltr`` (see module docstring)."""

    cfg: lm.ModelConfig
    loss: str
    gp: gp_.GPConfig
    params: dict[str, Tensor]
    recording: Recording
    train_mask: Tensor
    val_loss: float = float("nan")
    iterations: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        self.params = {k: v.detach() for k, v in self.params.items()}
        self._L = gp_.cholesky_factor(self.recording.trial_id, self.gp, self.recording.epoch)
        self._pred: Tensor | None = None

    # --- the network ---------------------------------------------------------------------
    @property
    def rank(self) -> int:
        return self.cfg.rank

    @property
    def factors(self) -> tuple[Tensor, Tensor, Tensor]:
        """(c [K, R], a [N, R], b [N, R]) with unit-norm columns of a and b."""
        return lm.factors(self.params, self._L)

    def weights(self, k: int) -> Tensor:
        """W(k) = a diag(c(k)) bᵀ [N, N] of fitted trial k."""
        c, a, b = self.factors
        return (a * c[k]) @ b.T

    def network(self, trials, *, condition: int = 0, dtype: torch.dtype = torch.float64):
        """The fitted network on trial(s) ``trials`` as a ``RateRNN`` (an ensemble for several
        trials): ``rr.dynamics.lyapunov_max(fit.network(range(K)))`` gives λ_max over learning.
        See ``rnnrank.fitting.network.fitted_network``."""
        from .network import fitted_network

        return fitted_network(self, trials, condition=condition, dtype=dtype)

    @property
    def readout(self) -> Tensor:
        """D [n, N]."""
        return lm.readout_matrix(self.params, self.cfg)

    # --- predictions ---------------------------------------------------------------------
    @torch.no_grad()
    def _predict(self, c: Tensor, condition: Tensor) -> Tensor:
        eta, _, _ = lm.predict_eta(self.params, self.cfg, c, condition, self.recording.shape[0])
        return lik.mean(eta, self.loss)

    def predict(self) -> Tensor:
        """Predicted mean [T, K, n] of every fitted trial."""
        if self._pred is None:
            self._pred = self._predict(self.factors[0], self.recording.condition)
        return self._pred

    def trial_factors_at(self, trial_id: Tensor, epoch: Tensor | None = None) -> Tensor:
        """c [K2, R] at new trial positions: GP posterior mean given the fitted c."""
        rec = self.recording
        return gp_.interpolate(self.factors[0], self.params["mu"], rec.trial_id,
                               torch.as_tensor(trial_id, dtype=torch.float64), self.gp,
                               rec.epoch, epoch)

    def predict_trials(self, trial_id: Tensor, condition: Tensor,
                       epoch: Tensor | None = None) -> Tensor:
        """Predicted mean [T, K2, n] of unseen trials (conditions must have been fitted)."""
        condition = torch.as_tensor(condition, dtype=torch.long)
        if bool((condition >= self.params["v"].shape[1]).any()):
            raise ValueError("predict_trials: a condition the fit never saw")
        return self._predict(self.trial_factors_at(trial_id, epoch), condition)

    def error(self, mask: Tensor) -> float:
        """Normalised deviance of the predictions on the masked entries (NaN if none)."""
        mask = mask & self.recording.observed()
        if not bool(mask.any()):
            return float("nan")
        return lik.normalised_deviance(self.predict(), self.recording.data, mask, self.loss)

    @property
    def train_error(self) -> float:
        return self.error(self.train_mask)

    @property
    def test_error(self) -> float:
        """On the observed entries the fit did not train on (NaN if it saw them all)."""
        return self.error(~self.train_mask)

    def transform(self, rec: Recording, *, seed: int = 0, options=None,
                  train_mask: Tensor | None = None, **option_kw) -> Fit:
        """Re-fit the trial factors (Z, μ) and initial states of new trials with a, b, D
        (and its gain), d and the inputs frozen (the recording must have the same neurons and
        conditions).

        ``options``: a ``FitOptions`` (its ``frozen`` is set here), or its fields as keywords
        (``max_iter=300``)."""
        fit = self
        if rec.shape[0] != fit.recording.shape[0] or rec.shape[2] != fit.recording.shape[2]:
            raise ValueError(f"new recording must have the same T and n as the fitted one "
                             f"({fit.recording.shape[0]}, {fit.recording.shape[2]}), got "
                             f"({rec.shape[0]}, {rec.shape[2]})")
        if rec.n_conditions > fit.params["v"].shape[1]:
            raise ValueError("new recording has conditions the fit never saw")
        frozen = ("A", "B", "v", "D_raw", "d", "log_shape", "log_gain")
        opts = resolve_options(options, option_kw, where="transform")
        if option_kw:
            raise TypeError(f"transform: unknown keyword(s) {sorted(option_kw)}; expected seed, "
                            f"options, train_mask or FitOptions fields {OPTION_NAMES}")
        opts = dataclasses.replace(opts, frozen=frozen)
        observed = rec.observed()
        train = observed if train_mask is None else train_mask & observed
        L = gp_.cholesky_factor(rec.trial_id, fit.gp, rec.epoch)
        p0 = {k: v.clone() for k, v in fit.params.items()}
        p0["Z"] = torch.zeros(rec.shape[1], fit.cfg.rank, dtype=p0["A"].dtype)
        fit_mask, val = (block_masks(rec.shape, fraction=opts.val_fraction, seed=seed,
                                     within=train)
                         if opts.val_fraction > 0 else (train, None))
        params, score, iters = optimise(p0, fit.cfg, L, rec, fit_mask, val, fit.loss, opts)
        return Fit(cfg=fit.cfg, loss=fit.loss, gp=fit.gp, params=params, recording=rec,
                   train_mask=train, val_loss=score, iterations=iters, seed=seed)

    # --- persistence ---------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write ``fit.pt`` (tensors and plain dicts only) into directory ``path``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        rec = {k: getattr(self.recording, k) for k in FIELDS
               if getattr(self.recording, k) is not None}
        state = {"cfg": dataclasses.asdict(self.cfg), "gp": dataclasses.asdict(self.gp),
                 "loss": self.loss, "params": self.params, "recording": rec,
                 "train_mask": self.train_mask,
                 "val_loss": self.val_loss, "iterations": self.iterations, "seed": self.seed}
        tmp = path / "fit.pt.tmp"
        torch.save(state, tmp)
        tmp.replace(path / "fit.pt")
        return path / "fit.pt"

    @classmethod
    def load(cls, path) -> Fit:
        """Read a fit written by ``save`` (a directory or the ``fit.pt`` file)."""
        path = Path(path)
        if path.is_dir():
            path = path / "fit.pt"
        state = torch.load(path, weights_only=True)
        rec = state["recording"]
        return cls(cfg=lm.ModelConfig(**state["cfg"]), loss=state["loss"],
                   gp=gp_.GPConfig(**state["gp"]), params=state["params"],
                   recording=Recording(**rec), train_mask=state["train_mask"],
                   val_loss=state["val_loss"], iterations=state["iterations"],
                   seed=state["seed"])
