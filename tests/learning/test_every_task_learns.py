"""Contract: BPTT lowers the held-out loss of every registered task in a short run.

Float32 training is chaotic: one network's loss after 150 Adam updates hangs on round-off (a
Mante run at lr 3e-3 ended at 0.95× or 0.58× of its initial loss depending on the thread count).
So three networks (seeds 0, 1, 2, each on its own trials) train as one ensemble at Adam 1e-3, and
the test asserts on their median, with margin: measured under ATEN_CPU_CAPABILITY=default and
avx512, two held-out seeds, the median ratio was ≤ 0.67 for every task (sine, the slowest;
mante 0.29–0.34, flip-flop 0.10) and no member above 0.73.
"""

from __future__ import annotations

import pytest
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse

TASKS = [name for name in rr.tasks.available_tasks() if name != "neurogym"]  # needs an env


@pytest.mark.parametrize("name", TASKS)
def test_bptt_lowers_the_loss(name):
    task = rr.tasks.make(name, dt=0.5)
    model = rr.RateRNN(task.n_in, 64, task.n_out, gain=1.0, seed=[0, 1, 2], dt=0.5)
    held_out = task.sample(64, generator=torch.Generator().manual_seed(99))

    def loss():
        outputs, _ = model.run(held_out.inputs, grad=False)
        return masked_mse(task.effector(outputs), held_out.targets, held_out.mask)

    before = loss()
    rr.train(model, task, steps=150, lr=1e-3, batch_size=16, record_every=150,
             independent_batches=True)
    ratio = loss() / before
    assert float(ratio.median()) < 0.85, ratio  # measured ≤ 0.67
    assert bool((ratio < 1.0).all()), ratio  # no member ends worse than it started (≤ 0.73)
