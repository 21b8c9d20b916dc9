"""Cross-validated rank of a low-tensor-rank RNN fit: ``cross_validate(rec, ranks) -> CVResult``.

Schemes (each scores held-out data with the fit's own likelihood, as a normalised deviance —
the normalised MSE for ``loss="mse"``; see ``likelihoods``):

- ``"blocks"`` (Pellegrino et al. 2023): held-out (time × trial × neuron) blocks with a buffer
  ring that neither trains nor tests (``masks.block_masks``);
- ``"trials"``: whole trials held out; their trial factors are the GP interpolation of the
  fitted c(k) (``Fit.predict_trials``), their initial state and inputs those of their condition;
- ``"neurons"`` (co-smoothing): held-out neurons are seen on training trials only, so their
  readout is fitted there, and scored on the test trials (where only the held-in neurons were
  seen).

Baselines in the same table: a trial-invariant RNN (the rank-max(ranks) network with c(k) = μ
fixed, i.e. no learning across trials) and, for the blocks scheme, a CP/PCA-like reference: a
rank-R CP decomposition of the data tensor fitted on the training entries (``cp_baseline``).

Rank rule (``best_rank``): the smallest rank whose mean held-out score is within one standard
error (over seeds/folds) of the best mean score — the one-standard-error rule; with a single
seed, the smallest rank within 1% of the best score.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from . import likelihoods as lik
from .ltr_fit import FitOptions, fit_ltr
from .masks import block_masks, neuron_split, trial_split
from .recording import Recording

SCHEMES = ("blocks", "trials", "neurons")


@dataclass
class CVResult:
    """Held-out scores per rank: ``scores {rank: mean}``, ``all_scores {rank: [per seed]}``."""

    scheme: str
    loss: str
    all_scores: dict[int, list[float]]
    baselines: dict[str, float] = field(default_factory=dict)
    train_scores: dict[int, list[float]] = field(default_factory=dict)

    @property
    def scores(self) -> dict[int, float]:
        return {r: sum(v) / len(v) for r, v in self.all_scores.items()}

    @property
    def best_rank(self) -> int:
        """The one-standard-error rule of the module docstring."""
        means = self.scores
        best = min(means, key=means.get)
        vals = self.all_scores[best]
        if len(vals) > 1:
            m = means[best]
            se = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1) / len(vals))
        else:
            se = 0.01 * abs(means[best])
        return min(r for r in means if means[r] <= means[best] + se)

    def table(self) -> list[dict]:
        """Rows {rank, test, train} then baselines {rank: name, test}."""
        rows = [{"rank": r, "test": self.scores[r],
                 "train": (sum(self.train_scores[r]) / len(self.train_scores[r])
                           if self.train_scores.get(r) else float("nan"))}
                for r in sorted(self.all_scores)]
        rows += [{"rank": name, "test": v, "train": float("nan")}
                 for name, v in self.baselines.items()]
        return rows

    def plot(self, ax=None):
        """Held-out score against rank (mean ± per-seed points), baselines as lines."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4, 3))
        ranks = sorted(self.all_scores)
        ax.plot(ranks, [self.scores[r] for r in ranks], "o-", color="k", label="ltrRNN (test)")
        for r in ranks:
            ax.plot([r] * len(self.all_scores[r]), self.all_scores[r], ".", color="0.6")
        for name, v in self.baselines.items():
            ax.axhline(v, ls="--", lw=1, label=name, color="C1" if "RNN" in name else "C2")
        ax.axvline(self.best_rank, color="C3", lw=0.8)
        ax.set_xlabel("rank R")
        ax.set_ylabel("held-out " + ("nMSE" if self.loss == "mse" else "normalised deviance"))
        ax.legend(frameon=False, fontsize=7)
        return ax


def _split(rec: Recording, scheme: str, seed: int, fraction: float):
    """(train mask [T, K, n], test mask [T, K, n] or trial mask [K])."""
    obs = rec.observed()
    if scheme == "blocks":
        return block_masks(rec.shape, fraction=fraction, seed=seed, within=obs)
    if scheme == "trials":
        tr, te = trial_split(rec.shape[1], fraction=fraction, seed=seed)
        return tr, te
    held = neuron_split(rec.shape[2], fraction=fraction, seed=seed)
    tr_trials, te_trials = trial_split(rec.shape[1], fraction=fraction, seed=seed)
    hide = te_trials[None, :, None] & held[None, None, :]
    return obs & ~hide, obs & hide


def _score(rec: Recording, scheme: str, split, loss: str, rank: int, seed: int,
           fit_kw: dict) -> tuple[float, float]:
    """(test score, train score) of one fit."""
    if scheme == "trials":
        tr, te = split
        sub = rec.trials(tr)
        fit = fit_ltr(sub, rank, loss=loss, seed=seed, **fit_kw)
        test = rec.trials(te)
        pred = fit.predict_trials(test.trial_id, test.condition, test.epoch)
        return (lik.normalised_deviance(pred, test.data, test.observed(), loss),
                fit.train_error)
    train, test = split
    fit = fit_ltr(rec, rank, loss=loss, seed=seed, train_mask=train, **fit_kw)
    return fit.error(test), fit.train_error


def cp_baseline(rec: Recording, rank: int, train: Tensor, test: Tensor, *, iters: int = 300,
                seed: int = 0) -> float:
    """Normalised MSE on ``test`` of a rank-R CP model of the data fitted on ``train`` entries
    by Adam (time × trial × neuron factors; the PCA/TCA reference of the paper's tables)."""
    g = torch.Generator().manual_seed(seed)
    T, K, n = rec.shape
    y = torch.where(train, rec.data, torch.zeros((), dtype=rec.data.dtype)).double()
    f = [(0.3 * torch.randn(s, rank, generator=g, dtype=torch.float64)).requires_grad_()
         for s in (T, K, n)]
    mu = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([*f, mu], lr=0.05)
    w = train.double()
    for _ in range(iters):
        opt.zero_grad()
        pred = torch.einsum("tr,kr,nr->tkn", *f) + mu
        ((pred - y) ** 2 * w).sum().div(w.sum()).backward()
        opt.step()
    with torch.no_grad():
        pred = torch.einsum("tr,kr,nr->tkn", *f) + mu
    return lik.normalised_deviance(pred, rec.data, test, "mse")


def cross_validate(rec: Recording, ranks: Sequence[int], *, scheme: str = "blocks",
                   seeds: Sequence[int] = (0,), fraction: float = 0.2, loss: str = "mse",
                   baselines: bool = True,
                   progress: Callable[[int, int, float], None] | None = None,
                   **fit_kw) -> CVResult:
    """Held-out score of ``fit_ltr`` at each rank (see module docstring).

    Args:
        rec: the recording.
        ranks: ranks to compare (each ≥ 1).
        scheme: ``"blocks"``, ``"trials"`` or ``"neurons"``.
        seeds: one split and one fit seed per entry (the spread gives the standard error).
        fraction: held-out fraction (block centres scaled to it / trials / neurons).
        loss: the fit's likelihood, also used to score.
        baselines: add the trial-invariant RNN (and, for MSE blocks, CP) baselines.
        progress: called as progress(rank, seed, score) after each fit.
        fit_kw: passed to ``fit_ltr`` (``n_rec``, ``alpha``, ``options``, …).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    ranks = [int(r) for r in ranks]
    if not ranks or min(ranks) < 1:
        raise ValueError(f"ranks must be integers ≥ 1, got {ranks}")
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    out = CVResult(scheme=scheme, loss=loss, all_scores={}, train_scores={})
    for r in ranks:
        for s in seeds:
            split = _split(rec, scheme, s, fraction)
            test, train = _score(rec, scheme, split, loss, r, s, fit_kw)
            out.all_scores.setdefault(r, []).append(test)
            out.train_scores.setdefault(r, []).append(train)
            if progress is not None:
                progress(r, s, test)
    if baselines:
        split = _split(rec, scheme, seeds[0], fraction)
        opts = fit_kw.pop("options", None) or FitOptions()
        frozen = dataclasses.replace(opts, frozen=("Z",))
        out.baselines[f"trial-invariant RNN (R={max(ranks)})"] = _score(
            rec, scheme, split, loss, max(ranks), seeds[0], {**fit_kw, "options": frozen})[0]
        if scheme == "blocks" and loss == "mse":
            for r in sorted({min(ranks), max(ranks)}):
                out.baselines[f"CP (R={r})"] = cp_baseline(rec, r, *split, seed=seeds[0])
    return out
