"""Contract: BPTT lowers the loss of every registered task in a short run (held-out batch)."""

from __future__ import annotations

import pytest
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse

TASKS = [name for name in rr.tasks.available_tasks() if name != "neurogym"]  # needs an env


@pytest.mark.parametrize("name", TASKS)
def test_bptt_lowers_the_loss(name):
    task = rr.tasks.make(name, dt=0.5)
    model = rr.RateRNN(task.n_in, 64, task.n_out, gain=1.0, seed=0, dt=0.5)
    held_out = task.sample(64, generator=torch.Generator().manual_seed(99))

    def loss():
        outputs, _ = model.run(held_out.inputs, grad=False)
        return float(masked_mse(task.effector(outputs), held_out.targets, held_out.mask))

    before = loss()
    rr.train(model, task, steps=150, lr=3e-3, batch_size=16, record_every=150)
    # 150 Adam steps at N = 64: every task's held-out loss falls by at least 15%
    # (measured: flip-flop, romo, reach, sine by > 50%; mante, the slowest, by ~25%).
    assert loss() < 0.85 * before
