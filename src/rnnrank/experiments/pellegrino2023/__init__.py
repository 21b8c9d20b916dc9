"""Reproduce Pellegrino, Cayco-Gajic & Chadwick (2023, NeurIPS): read learning out of activity.

Claim: weights inferred from activity recorded over learning are low-tensor-rank — a network
whose weights change over trials along a few fixed directions explains the recording, and a
fixed network does not. Steps (everything cached and resumable in ``out``):

1. The teacher (``teacher``): a ``RateRNN`` pretrained to convergence on centre-out ``reach``
   with a random preparatory period per trial, then learning trial by trial (one SGD step of
   W per trial) through baseline → curl field → washout, calibrated to the paper's hand-error
   curve before any fit (``setup.Setup``). The null control: the same trials with W frozen.
2. Recordings (``recordings``): the *paper arm* — float rates of all units on t ≥ 0, as the
   authors' example — decides the claims; the *detection-limit arm* — Poisson counts over
   units × rates × bins — is rnnrank's own question. Before any fit, the learning share of the
   clean rates' variance must exceed the splits' spread, else the teacher cannot test the claim.
3. Fits (``grid``, ``decide``): the paper's grid of nested fits through ``rr.sweep``.
4. Claims, each with a verdict (``claims``; the numbers behind them in ``measures``):
   (i) the teacher's ΔW(k) tensor has low CP rank (named by the fits' one-SE rule);
   (ii) the rank chosen from activity matches the CP rank of Pᵀ W(k) P;
   (iii) the fitted factors recover the true ones better than chance (angles, R² of c(k));
   (iv) the ltrRNN's learning score is > 0 and the null control's ≤ 0 — unless the learning
        budget is below the fits' spread over splits ("inconclusive").
"""



from __future__ import annotations

from pathlib import Path

from ..framework import REPRODUCTIONS, Outcome, PaperModules
from . import claims as claims
from . import recordings as recordings
from . import setup as setup
from . import teacher as teacher
from .measures import principal_angles as principal_angles
from .measures import r2_linear_map as r2_linear_map
from .run import build_teacher as build_teacher
from .run import hand_curve as hand_curve
from .run import reproduce as reproduce
from .setup import PAPER as PAPER
from .setup import QUICK_LEAVES_OUT as QUICK_LEAVES_OUT
from .setup import Setup as Setup
from .setup import paper as paper
from .setup import quick as quick
from .teacher import hand_error as hand_error


@REPRODUCTIONS.register("pellegrino2023")
class Pellegrino2023(PaperModules):
    """A teacher that learns a curl field, recorded; low-tensor-rank fits read its learning."""

    title = "Pellegrino et al. 2023 — low tensor rank learning of neural dynamics"
    supports_full = False
    setup_module, claims_module = setup, claims

    def run(self, out: Path, setup: Setup, *, progress: bool = False, full: bool = False,
            threads: int = 1, workers: int | None = None) -> Outcome:
        from .run import run_all

        return run_all(out, setup, progress=progress, threads=threads, workers=workers)

    def report(self, results: dict, out: Path, **context) -> Path:
        from .report import write_report

        return write_report(results, out, **context)
