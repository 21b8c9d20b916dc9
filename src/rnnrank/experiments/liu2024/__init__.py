"""Liu, Zhang & Liu (2024, arXiv 2410.11164): *How initial connectivity shapes biologically
plausible learning in recurrent neural networks*.

The paper has no public code; this follows the same lab's code (REFERENCES §3,
Helena-Yuhan-Liu/LearningRuleSimilarities, ``main_train_model.py`` / ``model_architectures.py``),
each convention named in ``Setup`` with its source: CTRNN x ← (1−α)x + α(W φ(x) + U u + b) with
α = dt/τ = 0.1, φ = retanh = max(tanh, 0), W0 = 1.5·``ini_gain``·N(0, 1)/√N (rnnrank's
g = 1.5·ini_gain; both axes are reported), input weights N(0, 1/I), a learned initial state x0,
N = 200, Adam 3e-4. Tasks: Mante 2013 (context-dependent integration), centre-out reach, and
delayed XOR (Engelken's flossing task). Rules: BPTT, truncated BPTT (window 10), e-prop
(symmetric feedback), RFLO (random feedback).

For every task × rule the sweep ini_gain × seeds trains as *one* ``RateRNN`` ensemble (members
share batches). A second arm pre-flosses the same initial networks first: gradient flossing's
gradient is non-local (it needs Jacobians through time, which no synapse has), so for the
bio-plausible rules it is applied as a developmental phase *before* learning, never mixed into
the local updates (``dynamics``); the flossed network is the task-driven one, the network
whose λ_max is measured. Measured per member: final held-out loss; λ_max driven by the task's
trials before training, after pre-flossing and after training, and of the autonomous network;
the cosine of the rule's estimate with the exact gradient over training. ``claims``
turns them into one verdict per claim.
"""


from __future__ import annotations

from pathlib import Path

from ..framework import REPRODUCTIONS, Outcome, PaperModules
from . import claims as claims
from . import dynamics as dynamics
from . import protocol as protocol
from . import setup as setup
from .run import arms as arms
from .run import held_out_loss as held_out_loss
from .run import initial_model as initial_model
from .run import lyap_inputs as lyap_inputs
from .run import reproduce as reproduce
from .run import run_arm as run_arm
from .run import summary as summary
from .setup import LAB_MANTE_TIMING as LAB_MANTE_TIMING
from .setup import QUICK_MANTE as QUICK_MANTE
from .setup import RULES as RULES
from .setup import TASKS as TASKS
from .setup import Setup as Setup
from .setup import decisive as decisive
from .setup import make_task as make_task
from .setup import paper as paper
from .setup import quick as quick


@REPRODUCTIONS.register("liu2024")
class Liu2024(PaperModules):
    """BPTT, e-prop and RFLO from initial connectivity of chosen gain, with and without
    gradient flossing; λ_max before and after."""

    title = "Liu, Zhang & Liu 2024 — initial connectivity and bio-plausible learning"
    supports_full = False
    setup_module, claims_module = setup, claims

    def run(self, out: Path, setup: Setup, *, progress: bool = False,
            full: bool = False) -> Outcome:
        from .run import run_arms

        return Outcome(run_arms(out, setup, progress=progress))

    def report(self, results: dict, out: Path) -> Path:
        from .report import write_report

        return write_report(results, out)
