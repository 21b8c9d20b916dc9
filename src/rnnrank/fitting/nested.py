"""One nested fit on one held-out split: the trial-invariant RNN, then the ltrRNN from it.

The unit of work of a cross-validation grid (``cross_validate`` runs many in a loop; a sweep's
``fit:`` job with ``split:`` runs one, so a grid of them resumes run by run):

1. ``split_masks``: the (train, test) entries of a recording for a scheme and seed (blocks with
   a buffer ring, or co-smoothing of held-out neurons on held-out trials);
2. the trial-invariant RNN: the same model with its trial factors frozen (Z = 0: c(k) = μ for
   every trial), fitted on the training entries;
3. the ltrRNN warm-started from it (``init=``), so any gain over (2) is what trial-to-trial
   change of the weights adds (Pellegrino et al. 2023: a fixed network cannot explain learning).

``NestedFit.summary()`` holds the held-out errors of both, the ltrRNN's learning score (exactly
0 for a trial-invariant model) and how each optimisation ended (iterations used, whether it
stopped at ``max_iter`` — still improving — or by early stopping).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torch import Tensor

from .fit import Fit
from .ltr_fit import fit_ltr
from .masks import block_masks, neuron_split, trial_split
from .optimise import FitOptions, resolve_options
from .recording import Recording
from .scores import learning_score

SCHEMES = ("blocks", "neurons")  # held-out entries of a fit of every trial ("trials" held
# out whole need their trial factors predicted from the others: ``cross_validate`` does that)


def split_masks(rec: Recording, *, scheme: str = "blocks", seed: int = 0,
                fraction: float = 0.2) -> tuple[Tensor, Tensor]:
    """(train, test) masks [T, K, n] of one split (only observed entries in either)."""
    obs = rec.observed()
    if scheme == "blocks":
        return block_masks(rec.shape, fraction=fraction, seed=seed, within=obs)
    if scheme == "neurons":
        held = neuron_split(rec.shape[2], fraction=fraction, seed=seed)
        _, te_trials = trial_split(rec.shape[1], fraction=fraction, seed=seed)
        hide = te_trials[None, :, None] & held[None, None, :]
        return obs & ~hide, obs & hide
    raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")


@dataclass(frozen=True)
class NestedFit:
    """The two fits of one split and its masks (``train``, ``test`` [T, K, n])."""

    invariant: Fit
    fit: Fit
    train: Tensor
    test: Tensor
    max_iter: int

    def summary(self) -> dict:
        """Plain numbers: held-out nMSE of both fits, the learning score, and convergence."""
        rec = self.fit.recording
        return {
            "rank": self.fit.rank, "n_rec": int(self.fit.cfg.n_rec),
            "test_error": self.fit.error(self.test),
            "invariant_test_error": self.invariant.error(self.test),
            "train_error": float(self.fit.train_error),
            "learning_score": learning_score(self.fit, rec, self.train, self.test),
            "iterations": int(self.fit.iterations),
            "invariant_iterations": int(self.invariant.iterations),
            "hit_max_iter": bool(self.fit.iterations >= self.max_iter),
            "invariant_hit_max_iter": bool(self.invariant.iterations >= self.max_iter),
        }


def nested_fit(rec: Recording, rank: int, *, scheme: str = "blocks", split_seed: int = 0,
               fraction: float = 0.2, seed: int | None = None,
               options: FitOptions | None = None, **fit_kw) -> NestedFit:
    """Split ``rec`` (``split_masks``), fit the trial-invariant RNN on the training entries, then
    the ltrRNN warm-started from it. ``seed`` (default ``split_seed``) seeds both fits;
    ``fit_kw``: ``fit_ltr``'s keywords (``n_rec``, ``readout``, …) and ``FitOptions`` fields by
    name (``max_iter=300``)."""
    opts = resolve_options(options, fit_kw, where="nested_fit")
    seed = split_seed if seed is None else seed
    train, test = split_masks(rec, scheme=scheme, seed=split_seed, fraction=fraction)
    frozen = dataclasses.replace(opts, frozen=tuple(sorted({*opts.frozen, "Z"})))
    inv = fit_ltr(rec, rank, train_mask=train, options=frozen, seed=seed, **fit_kw)
    fit = fit_ltr(rec, rank, train_mask=train, options=opts, seed=seed, init=inv, **fit_kw)
    return NestedFit(inv, fit, train, test, opts.max_iter)
