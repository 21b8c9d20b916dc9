"""λ_max and gradient flossing for the Liu et al. (2024) reproduction.

λ_max comes from ``rr.dynamics.lyapunov_max`` (QR method on the model's own Jacobian), flossing
from the ``rr.learning.Flossing`` hook run as a phase of its own.

Gradient flossing (Engelken 2023) is non-local: its gradient needs the network's Jacobians
through time, which no synapse has. For the bio-plausible rules it therefore stands for a
developmental phase before learning (REFERENCES §3): pre-flossing of W, U, b (not the readout)
toward λ_i = 0, then the rule trains as usual. Engelken's inter-flossing (bursts every so many
updates, ``Flossing(every=...)``) is not used here: it would put the non-local signal inside
learning itself, and the rule would no longer be local; a developmental phase before learning
keeps every learning update local (the same phase may be given to BPTT, for comparison).
The flossed network is the *driven* one — the task's trials feed it (``Flossing(inputs="task")``
with the task given), the network whose λ_max the report shows. (Until issue 23 the task was not
passed and the autonomous network was flossed.)
"""

from __future__ import annotations

import torch
from torch import Tensor

from ...dynamics import lyapunov_max
from ...learning.flossing import Flossing
from ...models.rate_rnn import RateRNN


def source() -> str:
    """The implementation in use (recorded in the results)."""
    return "rnnrank.dynamics"


def lambda_max(model: RateRNN, inputs: Tensor, *, steps: int, warmup: int) -> Tensor:
    """λ_max [E] in nats per unit time (τ) of the network driven by trial inputs [T, B, I]
    (zeros: the autonomous network, from random states)."""
    lam = lyapunov_max(model, inputs=inputs, steps=steps, warmup=warmup, per="time")
    return lam.reshape(-1)


def preflossing(model: RateRNN, task, *, updates: int, k: int, lr: float, seed: int,
                batch: int = 1) -> Flossing:
    """Pre-flossing in place: ``updates`` Adam steps pushing the k leading exponents of the
    network driven by ``task``'s trials to 0. Returns the hook (its ``losses``)."""
    hook = Flossing(k=k, pre=max(updates, 0), every=None, lr=lr, batch=batch, inputs="task")
    hook.init(model, torch.Generator().manual_seed(seed), task=task)
    if updates > 0:
        hook.before_update(model, 0)
    return hook
