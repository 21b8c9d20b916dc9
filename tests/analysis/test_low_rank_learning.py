"""The central claim, fast: learning a flip-flop changes W by a low-rank ΔW that carries the task.

Schuessler et al. (2020): ΔW = W − W0 has a few dominant singular values, and W0 + [ΔW]_R with
small R performs like the trained network while W0 alone does not. Three networks (N = 32,
g = 0.9, seeds 0–2, each on its own trials) train as one ensemble at Adam 3e-3 for 150 updates.
Measured (ATEN_CPU_CAPABILITY default/avx2/avx512, 1 thread): accuracy 1.0; loss(R=0)/loss(full)
196–250, loss(R=6)/loss(full) ≤ 1.8; participation ratio of ΔW 2.9–3.5 (a Gaussian 32×32 matrix:
≈ 16); top four singular values ≥ 88% of ‖ΔW‖². Every bound below keeps a ≥ 2× margin.
"""

from __future__ import annotations

import numpy as np
import pytest

import rnnrank as rr
from rnnrank import analysis as an


@pytest.fixture(scope="module")
def trained():
    task = rr.tasks.make("flipflop", n_bits=2, memory="last", dt=0.5, duration=25.0)
    model = rr.RateRNN(2, 32, 2, gain=0.9, seed=[0, 1, 2], dt=0.5)
    run = rr.train(model, task, steps=150, lr=3e-3, batch_size=16, record_every=150,
                   independent_batches=True)
    return model, task, run


@pytest.mark.parametrize("member", [0, 1, 2])
def test_delta_w_is_low_rank_and_carries_the_task(trained, member):
    model, task, run = trained
    w = np.asarray(run.trajectory.weights, dtype=np.float64)[:, member]
    s = an.singular_values(w[-1] - w[0])
    assert an.participation_ratio(s) < 8.0
    assert np.sum(s[:4] ** 2) / np.sum(s**2) > 0.7
    res = an.performance_vs_rank(model, task, [0, 6, 32], trajectory=run.trajectory,
                                 member=member, batch_size=64)
    assert res.score_full > 0.9
    assert res.loss[0] > 20 * res.loss_full  # W0 alone does not do the task ...
    assert res.loss[1] < 0.05 * res.loss[0]  # ... W0 + [ΔW]_6 does
