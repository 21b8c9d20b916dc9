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

Each seed is one split and one fit seed (default three: a single split cannot give a standard
error). Per split the table holds the held-out normalised error *and* the learning score
(``scores.learning_score``: held-out residuals from the condition mean predicted by the fit's
own residuals — 0 for a network that does not learn), each summarised as mean ± s.e.

Baselines: a trial-invariant RNN (c(k) = μ fixed, i.e. no learning across trials) on every
split — at each rank when ``warm_start=True`` (the nested fit: the ltrRNN of that rank starts
from it, so the error both share cancels in the comparison), else at max(ranks) — and, for
the blocks scheme, a CP/PCA-like reference: a rank-R CP decomposition of the data tensor fitted
on the training entries (``cp_baseline``).

References that need no network, on every split: the *data's mean* — each held-out entry
predicted by its neuron's mean over the training entries (``mean_baseline``; its normalised
error is ≈ 1 by construction, slightly above because the mean is the training entries') — and
the trial-invariant RNN above.

Rank rule (``best_rank``), on ``select="error"`` (held-out normalised error, lower is better) or
``select="learning"`` (learning score, higher is better):

1. a rank is a candidate only if it beats the data's mean by 2 standard errors: the paired
   difference (mean's error − rank's error, per split) has mean > 2 s.e.; this needs ≥ 3
   splits. When no rank qualifies — pure noise, or too few splits — ``best_rank`` is ``None``
   and ``reason`` says why ("no rank explains held-out data better than its mean");
2. among the candidates, the one-standard-error rule: the smallest rank whose mean is within
   one standard error of the best mean.

``margin(rank, against)`` gives the paired difference against ``"mean"`` or ``"invariant"``
(the trial-invariant RNN), and ``notes`` adds when no rank beats the trial-invariant RNN by
2 s.e. (the fits see no learning). A ``CVResult`` built without ``mean_scores`` (by hand) skips
step 1; with fewer than 3 splits its best mean wins.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..stats import mean_se
from . import likelihoods as lik
from .ltr_fit import fit_ltr
from .masks import block_masks, neuron_split, trial_split
from .optimise import OPTION_NAMES, resolve_options
from .recording import Recording
from .scores import learning_score

SCHEMES = ("blocks", "trials", "neurons")
SELECT = ("error", "learning")
MIN_SPLITS_FOR_SE = 3
NOTHING_THERE = "no rank explains held-out data better than its mean"
# fit_ltr's keywords that cross_validate passes on (it sets rec, rank, loss, seed, train_mask)
_FIT_ARGS = frozenset(inspect.signature(fit_ltr).parameters) - {
    "rec", "rank", "loss", "seed", "train_mask", "init", "option_kw"}


def mean_and_se(values: Sequence[float]) -> tuple[float, float]:
    """(mean, standard error) of the finite values: ``rnnrank.stats.mean_se`` without n (NaN
    mean with no value, NaN s.e. with one), the pair the summaries and plots here use."""
    return tuple(mean_se(values)[:2])


def one_se_rule(values: dict[int, Sequence[float]], *, higher_is_better: bool = False) -> int:
    """Smallest key whose mean is within one s.e. of the best mean (s.e. of the best key's
    values; needs ≥ 3 values there, else the best mean wins)."""
    stats = {r: mean_and_se(v) for r, v in values.items()}
    stats = {r: s for r, s in stats.items() if math.isfinite(s[0])}
    if not stats:
        raise ValueError("no finite score to choose a rank from")
    sign = -1.0 if higher_is_better else 1.0
    best = min(stats, key=lambda r: sign * stats[r][0])
    m, se = stats[best]
    n = sum(math.isfinite(float(x)) for x in values[best])
    if n < MIN_SPLITS_FOR_SE or not math.isfinite(se):
        return best
    return min(r for r, (mr, _) in stats.items() if sign * mr <= sign * m + se)


def paired_difference(reference: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """(mean, s.e.) over splits of reference[s] − values[s], on splits where both are finite."""
    return mean_and_se([a - b for a, b in zip(reference, values, strict=False)
                    if math.isfinite(float(a)) and math.isfinite(float(b))])


@dataclass
class CVResult:
    """Held-out scores per rank and split (see module docstring).

    ``all_scores {rank: [normalised error per split]}``, ``learning {rank: [learning score per
    split]}``, ``invariant {rank: [trial-invariant RNN error per split]}`` (and
    ``invariant_learning``, exactly 0 by construction), ``scores {rank: mean error}``,
    ``mean_scores [error of the data's mean per split]`` (the reference a rank must beat).
    """

    scheme: str
    loss: str
    all_scores: dict[int, list[float]]
    baselines: dict[str, float] = field(default_factory=dict)
    train_scores: dict[int, list[float]] = field(default_factory=dict)
    learning: dict[int, list[float]] = field(default_factory=dict)
    invariant: dict[int, list[float]] = field(default_factory=dict)
    invariant_learning: dict[int, list[float]] = field(default_factory=dict)
    select: str = "error"
    fits: dict[int, list] = field(default_factory=dict)
    splits: list = field(default_factory=list)
    mean_scores: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.select not in SELECT:
            raise ValueError(f"select must be one of {SELECT}, got {self.select!r}")

    @property
    def scores(self) -> dict[int, float]:
        return {r: mean_and_se(v)[0] for r, v in self.all_scores.items()}

    @property
    def n_splits(self) -> int:
        return min((len(v) for v in self.all_scores.values()), default=0)

    def margin(self, rank: int, against: str = "mean") -> tuple[float, float]:
        """(mean, s.e.) over splits of the reference's held-out error minus rank ``rank``'s
        (> 0: the rank does better). ``against``: ``"mean"`` (the data's mean) or
        ``"invariant"`` (the trial-invariant RNN of that rank, else of the largest rank that
        has one; NaN when there is none)."""
        if rank not in self.all_scores:
            raise ValueError(f"rank {rank} was not cross-validated; ranks: "
                             f"{sorted(self.all_scores)}")
        if against == "mean":
            reference = self.mean_scores
        elif against == "invariant":
            reference = self.invariant.get(rank) or (self.invariant[max(self.invariant)]
                                                     if self.invariant else [])
        else:
            raise ValueError(f"against must be 'mean' or 'invariant', got {against!r}")
        return paired_difference(reference, self.all_scores[rank])

    def _beats(self, against: str) -> list[int]:
        """Ranks whose margin over the reference exceeds 2 s.e. (≥ 3 splits)."""
        out = []
        for r in sorted(self.all_scores):
            m, se = self.margin(r, against)
            if self.n_splits >= MIN_SPLITS_FOR_SE and math.isfinite(se) and m > 2 * se:
                out.append(r)
        return out

    def _candidates(self) -> tuple[list[int], str | None]:
        """(ranks the rank rule may choose from, why there are none)."""
        if not self.mean_scores:
            return sorted(self.all_scores), None
        if self.n_splits < MIN_SPLITS_FOR_SE:
            return [], (f"{NOTHING_THERE}: {self.n_splits} split(s) give no standard error; "
                        f"fix: ≥ {MIN_SPLITS_FOR_SE} seeds (splits)")
        beats = self._beats("mean")
        return beats, (None if beats else NOTHING_THERE)

    def rank_by(self, select: str) -> int | None:
        """The rank rule of the module docstring on ``"error"`` or ``"learning"``: ``None``
        when no rank beats the data's mean by 2 s.e. (``reason`` says why)."""
        if select not in SELECT:
            raise ValueError(f"select must be one of {SELECT}, got {select!r}")
        if select == "learning" and not self.learning:
            raise ValueError("no learning scores in this CVResult")
        ranks, _ = self._candidates()
        if not ranks:
            return None
        if select == "learning":
            return one_se_rule({r: self.learning[r] for r in ranks}, higher_is_better=True)
        return one_se_rule({r: self.all_scores[r] for r in ranks})

    @property
    def best_rank(self) -> int | None:
        """``rank_by(self.select)``: ``None`` when no rank explains held-out data better than
        its mean (see ``reason``)."""
        return self.rank_by(self.select)

    @property
    def reason(self) -> str | None:
        """Why ``best_rank`` is ``None`` (``None`` when it is a rank)."""
        return self._candidates()[1]

    @property
    def notes(self) -> list[str]:
        """Plain-language cautions for summaries: ``reason``, and whether any rank beats the
        trial-invariant RNN by 2 s.e."""
        out = [self.reason] if self.reason else []
        if self.invariant and not out and not self._beats("invariant"):
            out.append("no rank beats the trial-invariant RNN by 2 s.e.: the held-out data show "
                       "no learning these fits can see")
        return out

    def summary(self) -> dict[str, dict]:
        """{rank: {"error": [mean, se], "learning": [mean, se], "train": mean}} and
        {"invariant R=r": {"error": [mean, se]}} — plain floats for JSON."""
        out = {}
        for r in sorted(self.all_scores):
            row = {"error": list(mean_and_se(self.all_scores[r])),
                   "train": mean_and_se(self.train_scores.get(r, []))[0]}
            if r in self.learning:
                row["learning"] = list(mean_and_se(self.learning[r]))
            out[str(r)] = row
        for r, v in sorted(self.invariant.items()):
            out[f"invariant R={r}"] = {"error": list(mean_and_se(v)), "learning": [0.0, 0.0]}
        if self.mean_scores:
            out["data mean"] = {"error": list(mean_and_se(self.mean_scores)),
                                "learning": [0.0, 0.0]}
        return out

    def table(self) -> list[dict]:
        """Rows {rank, test, test_se, learning, learning_se, train} then baselines."""
        rows = []
        for r in sorted(self.all_scores):
            m, se = mean_and_se(self.all_scores[r])
            lm_, lse = mean_and_se(self.learning.get(r, []))
            rows.append({"rank": r, "test": m, "test_se": se, "learning": lm_,
                         "learning_se": lse, "train": mean_and_se(self.train_scores.get(r, []))[0]})
        for r, v in sorted(self.invariant.items()):
            m, se = mean_and_se(v)
            rows.append({"rank": f"trial-invariant R={r}", "test": m, "test_se": se,
                         "learning": 0.0, "learning_se": 0.0, "train": float("nan")})
        if self.mean_scores:
            m, se = mean_and_se(self.mean_scores)
            rows.append({"rank": "data mean", "test": m, "test_se": se, "learning": 0.0,
                         "learning_se": 0.0, "train": float("nan")})
        rows += [{"rank": name, "test": v, "test_se": float("nan"), "learning": float("nan"),
                  "learning_se": float("nan"), "train": float("nan")}
                 for name, v in self.baselines.items()]
        return rows

    def plot(self, ax=None):
        """Held-out error (and learning score, right axis) against rank, mean ± s.e."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(4.5, 3))
        ranks = sorted(self.all_scores)
        m = [mean_and_se(self.all_scores[r]) for r in ranks]
        ax.errorbar(ranks, [x[0] for x in m], [0 if math.isnan(x[1]) else x[1] for x in m],
                    fmt="o-", color="k", label="ltrRNN (test)", capsize=2)
        for r in ranks:
            ax.plot([r] * len(self.all_scores[r]), self.all_scores[r], ".", color="0.6")
        if len(self.invariant) > 1:
            inv = sorted(self.invariant)
            ax.plot(inv, [mean_and_se(self.invariant[r])[0] for r in inv], "v--", color="C1",
                    label="trial-invariant RNN")
        else:
            for r, v in self.invariant.items():
                ax.axhline(mean_and_se(v)[0], ls="--", lw=1, color="C1",
                           label=f"trial-invariant RNN (R={r})")
        for name, v in self.baselines.items():
            if "RNN" not in name:
                ax.axhline(v, ls="--", lw=1, label=name, color="C2")
        if self.mean_scores:
            ax.axhline(mean_and_se(self.mean_scores)[0], ls=":", lw=1, color="0.4",
                       label="data mean")
        if self.best_rank is not None:
            ax.axvline(self.best_rank, color="C3", lw=0.8)
        else:
            ax.set_title("no rank beats the data's mean", fontsize=8)
        ax.set_xlabel("rank R")
        ax.set_ylabel("held-out " + ("nMSE" if self.loss == "mse" else "normalised deviance"))
        if self.learning:
            ax2 = ax.twinx()
            lm_ = [mean_and_se(self.learning[r]) for r in ranks]
            ax2.errorbar(ranks, [x[0] for x in lm_], [0 if math.isnan(x[1]) else x[1]
                                                     for x in lm_],
                         fmt="s-", color="C0", capsize=2, label="learning score")
            ax2.axhline(0, color="C0", lw=0.5)
            ax2.set_ylabel("learning score", color="C0")
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
           fit_kw: dict, init=None):
    """(test score, train score, learning score, fit) of one fit."""
    if scheme == "trials":
        tr, te = split
        sub = rec.trials(tr)
        fit = fit_ltr(sub, rank, loss=loss, seed=seed, init=init, **fit_kw)
        test = rec.trials(te)
        pred_te = fit.predict_trials(test.trial_id, test.condition, test.epoch)
        full = torch.zeros(rec.shape, dtype=torch.float64)
        full[:, tr] = fit.predict().double()
        full[:, te] = pred_te.double()
        trm = torch.zeros(rec.shape, dtype=torch.bool)
        trm[:, tr] = True
        ls = learning_score(full, rec, trm, ~trm) if loss == "mse" else float("nan")
        return (lik.normalised_deviance(pred_te, test.data, test.observed(), loss),
                fit.train_error, ls, fit)
    train, test = split
    fit = fit_ltr(rec, rank, loss=loss, seed=seed, train_mask=train, init=init, **fit_kw)
    return fit.error(test), fit.train_error, learning_score(fit, rec, train, test), fit


def mean_baseline(rec: Recording, scheme: str, split, loss: str) -> float:
    """Held-out normalised error of the data's mean: each held-out entry predicted by its
    neuron's mean over the training entries (the overall training mean for a neuron with none).
    ≈ 1 by construction (the score's null predicts the held-out entries' own neuron means)."""
    obs = rec.observed()
    if scheme == "trials":
        tr, te = split
        train, test = obs & tr[None, :, None], obs & te[None, :, None]
    else:
        train, test = split[0] & obs, split[1] & obs
    y = torch.where(train, rec.data, torch.zeros((), dtype=rec.data.dtype)).double()
    w = train.double()
    count = w.sum(dim=(0, 1))
    overall = y.sum() / w.sum().clamp_min(1.0)
    means = torch.where(count > 0, y.sum(dim=(0, 1)) / count.clamp_min(1.0), overall)
    if loss != "mse":
        means = means.clamp_min(1e-8)
    if not bool(test.any()):
        return float("nan")
    return lik.normalised_deviance(means.expand(rec.shape), rec.data, test, loss)


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
                   seeds: Sequence[int] = (0, 1, 2), fraction: float = 0.2, loss: str = "mse",
                   baselines: bool = True, warm_start: bool = False, select: str = "error",
                   keep_fits: bool = False,
                   progress: Callable[[int, int, float], None] | None = None,
                   **fit_kw) -> CVResult:
    """Held-out normalised error and learning score of ``fit_ltr`` at each rank, per split.

    Args:
        rec: the recording.
        ranks: ranks to compare (each ≥ 1).
        scheme: ``"blocks"``, ``"trials"`` or ``"neurons"``.
        seeds: one split and one fit seed per entry; ≥ 3 (the default) give the standard
            error the rank rule needs — with fewer, ``best_rank`` is ``None``.
        fraction: held-out fraction (block centres scaled to it / trials / neurons).
        loss: the fit's likelihood, also used to score. The learning score is an R² of the
            data (meaningful for z-scored rates, ``"mse"``); it is computed for every loss.
        baselines: add the trial-invariant RNN per split (and, for MSE blocks, CP) baselines.
        warm_start: nested fits — at each rank and split, first fit the trial-invariant RNN
            (Z frozen at 0), then the ltrRNN starting from it.
        select: what ``best_rank`` chooses on: ``"error"`` or ``"learning"``.
        keep_fits: keep every ltrRNN fit (``fits {rank: [Fit per split]}``) and the splits
            (``splits [(train, test)]``) in the result.
        progress: called as progress(rank, seed, score) after each ltrRNN fit.
        fit_kw: passed to ``fit_ltr`` (``n_rec``, ``alpha``, ``readout``, ``options``, …),
            and ``FitOptions`` fields by name (``max_iter=300``), as ``fit_ltr`` takes them.

    Returns:
        a ``CVResult``; ``best_rank`` is ``None`` when no rank beats the data's mean by 2 s.e.
        over the splits (``reason`` says so).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    ranks = [int(r) for r in ranks]
    if not ranks or min(ranks) < 1:
        raise ValueError(f"ranks must be integers ≥ 1, got {ranks}")
    seeds = list(seeds)
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    if select not in SELECT:
        raise ValueError(f"select must be one of {SELECT}, got {select!r}")
    if "init" in fit_kw:
        raise ValueError("cross_validate: pass warm_start=True instead of init")
    for name in ("seed", "train_mask"):
        if name in fit_kw:
            raise ValueError(f"cross_validate sets {name} per split, got {name}="
                             f"{fit_kw[name]!r}; fix: pass seeds=[...] (one split and fit each)")
    opts = resolve_options(fit_kw.pop("options", None), fit_kw, where="cross_validate")
    unknown = sorted(set(fit_kw) - _FIT_ARGS)
    if unknown:
        raise TypeError(f"cross_validate: unknown keyword(s) {unknown}; expected fit_ltr's "
                        f"arguments {sorted(_FIT_ARGS)} or FitOptions fields {OPTION_NAMES}")
    frozen = dataclasses.replace(opts, frozen=tuple({*opts.frozen, "Z"}))
    out = CVResult(scheme=scheme, loss=loss, all_scores={}, train_scores={}, select=select)
    for s in seeds:
        split = _split(rec, scheme, s, fraction)
        if keep_fits:
            out.splits.append(split)
        out.mean_scores.append(mean_baseline(rec, scheme, split, loss))
        for r in ranks:
            init = None
            if warm_start or (baselines and r == max(ranks)):
                inv_test, _, inv_ls, inv = _score(rec, scheme, split, loss, r, s,
                                                  {**fit_kw, "options": frozen})
                out.invariant.setdefault(r, []).append(inv_test)
                out.invariant_learning.setdefault(r, []).append(inv_ls)
                init = inv if warm_start else None
            test, train, ls, fit = _score(rec, scheme, split, loss, r, s,
                                          {**fit_kw, "options": opts}, init=init)
            if keep_fits:
                out.fits.setdefault(r, []).append(fit)
            out.all_scores.setdefault(r, []).append(test)
            out.train_scores.setdefault(r, []).append(train)
            out.learning.setdefault(r, []).append(ls)
            if progress is not None:
                progress(r, s, test)
    for r, v in out.invariant.items():
        if baselines and r == max(ranks):
            out.baselines[f"trial-invariant RNN (R={r})"] = mean_and_se(v)[0]
    if baselines and scheme == "blocks" and loss == "mse":
        split = _split(rec, scheme, seeds[0], fraction)
        for r in sorted({min(ranks), max(ranks)}):
            out.baselines[f"CP (R={r})"] = cp_baseline(rec, r, *split, seed=seeds[0])
    return out
