"""Reproduce Pellegrino, Cayco-Gajic & Chadwick (2023, NeurIPS): read learning out of activity.

Claim: weights inferred from activity recorded over learning are low-tensor-rank — a network
whose weights change over trials along a few fixed directions explains the recording, and a
fixed network does not. Steps (everything cached in ``out``):

1. The teacher (``teacher``): a ``RateRNN`` pretrained on centre-out ``reach``
   to the paper's baseline hand error, then learning trial by trial (one SGD step of W per
   trial) through baseline → curl field → washout, calibrated to the paper's hand-error curve
   before any fit (``Setup``). The null control: the same network and trials with W frozen.
2. Recording: a subset of units as Poisson spike counts (20 ms bins), smoothed and z-scored;
   the execution period (t ≥ 0 after the go cue) is fitted, as LtrRNN does by default.
3. Claims, each with a verdict (``claims``; the numbers behind them in ``measures``):
   (i) the CP rank of the true ΔW(k) = W(k) − W(0) tensor is low;
   (ii) the rank chosen by block cross-validation from activity (learning score, one-SE rule
        over ≥ 3 splits; nested fits warm-started from the trial-invariant RNN) matches it;
   (iii) the fitted factors recover the true ones better than chance (principal angles,
        R² of c(k));
   (iv) the ltrRNN's learning score is > 0 and the null control's ≤ 0 — unless the learning
        budget (noiseless oracle vs its own condition mean) is below the fits' spread over
        splits, in which case the verdict is "inconclusive".
"""


from __future__ import annotations

from pathlib import Path

from ..framework import REPRODUCTIONS, Claim, Outcome
from . import claims as claims
from .measures import principal_angles as principal_angles
from .measures import r2_linear_map as r2_linear_map
from .run import build_teacher as build_teacher
from .run import hand_curve as hand_curve
from .run import one_per_target as one_per_target
from .run import recordings as recordings
from .run import reproduce as reproduce
from .setup import PAPER as PAPER
from .setup import QUICK_LEAVES_OUT as QUICK_LEAVES_OUT
from .setup import Setup as Setup
from .setup import paper as paper
from .setup import quick as quick
from .teacher import hand_error as hand_error


@REPRODUCTIONS.register("pellegrino2023")
class Pellegrino2023:
    """A teacher that learns a curl field, recorded; low-tensor-rank fits read its learning."""

    title = "Pellegrino et al. 2023 — low tensor rank learning of neural dynamics"
    supports_full = False

    def paper(self) -> Setup:
        return paper()

    def quick(self) -> Setup:
        return quick()

    def run(self, out: Path, setup: Setup, *, progress: bool = False, full: bool = False,
            threads: int = 1) -> Outcome:
        from .run import run_all

        return run_all(out, setup, progress=progress, threads=threads)

    def claims(self, results: dict) -> list[Claim]:
        return claims.decided(results)

    def report(self, results: dict, out: Path, **context) -> Path:
        from .report import write_report

        return write_report(results, out, **context)
