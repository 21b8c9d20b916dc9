"""Schuessler, Mastrogiuseppe, Dubreuil, Ostojic, Barak (NeurIPS 2020): *The interplay between
randomness and structure during learning in RNNs* — the rate-network part, and the linear theory.

Setup (REFERENCES.md §1): h ← (1−dt)h + dt(W tanh h + U u), τ = 1, dt = 0.5, N = 256, W0 = g J/√N,
‖m‖ = √N, ‖w‖ = 1/√N (``io_scale="field"``), Adam lr = 0.05/N, batch 32; flip-flop (2 bits,
``memory="last"``), Mante and Romo with the paper's timings; 1000 / 2000 / 6000 updates;
g ∈ arange(0, g_max + 0.3, 0.3), g_max = 2.1 / 2.7 / 3.0; 5 seeds; as in the authors' code
Mante with fixation, b not trained, the functional rank searched over every R = 0 … 25, and
only converged networks averaged (``claims``). ``Setup`` names every value once.
Each task trains as *one* ``RateRNN`` ensemble (every g × seed a member, each with its own
batches); analyses run per member. ``--full`` runs the same networks as ``rr.sweep`` runs
(``full``); the linear model is ``linear``.

The LSTM part (§5) is in ``lstm``, run by ``run.lstm_part``. Modules: ``setup``
(every value with its source), ``run`` (train and analyse the ensembles), ``full`` (the same
through sweeps), ``linear``, ``lstm``, ``claims`` (gate and verdict rules), ``report``.
"""


from __future__ import annotations

from pathlib import Path

from ..framework import REPRODUCTIONS, Outcome, PaperModules
from . import claims as claims
from . import setup as setup
from .full import reproduce_full as reproduce_full
from .run import analyse_task as analyse_task
from .run import collect as collect
from .run import linear_part as linear_part
from .run import lstm_part as lstm_part
from .run import rank_search as rank_search
from .run import reproduce as reproduce
from .run import train_task as train_task
from .setup import TASKS as TASKS
from .setup import Setup as Setup
from .setup import differences as differences
from .setup import make_task as make_task
from .setup import paper as paper
from .setup import quick as quick


@REPRODUCTIONS.register("schuessler2020")
class Schuessler2020(PaperModules):
    """Low-rank ΔW on flip-flop, Mante and Romo, the linear theory and the LSTM contrast."""

    title = "Schuessler et al. 2020 — the interplay between randomness and structure"
    supports_full = True
    setup_module, claims_module = setup, claims

    def run(self, out: Path, setup: Setup, *, progress: bool = False, full: bool = False,
            **options) -> Outcome:
        if full:
            from .full import run_full

            return Outcome(run_full(out, setup, progress=progress, **options))
        from .run import run_networks

        return Outcome(run_networks(out, setup, progress=progress, **options))

    def report(self, results: dict, out: Path) -> Path:
        from .report import write_report

        return write_report(results, out)

    def plan(self, out: Path, *, workers: int = 1) -> dict:
        """{task: jobs still to run} of the full run (``--full --dry-run``)."""
        from .full import plan_full

        return plan_full(paper(), out, workers=workers)
