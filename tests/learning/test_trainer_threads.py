"""rr.train(threads=k) trains on k torch threads and gives the process its setting back."""

from __future__ import annotations

import pytest
import torch

import rnnrank as rr
from rnnrank.learning.hooks import TrainingHook


class _SeeThreads(TrainingHook):
    name = "_see_threads"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def before_update(self, model, step: int) -> None:
        self.seen.append(torch.get_num_threads())


def test_threads_apply_during_the_run_and_are_restored():
    task = rr.tasks.make("flipflop", n_bits=2, duration=6.0, dt=0.5)
    model = rr.RateRNN(task.n_in, 8, task.n_out, gain=0.9, seed=0, dt=0.5)
    before = torch.get_num_threads()
    want = 2 if before == 1 else 1
    hook = _SeeThreads()
    rr.train(model, task, steps=3, batch_size=4, record_every=3, hooks=[hook], threads=want)
    assert hook.seen == [want] * 3 and torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        rr.train(model, task, steps=1, threads=0)


def test_the_task_owns_the_loss_and_train_can_override_it():
    """Step 0's recorded loss is the task's (masked MSE) by default; ``loss=`` replaces it —
    here with twice that, which must record exactly twice the loss at the same W(0)."""
    task = rr.tasks.make("flipflop", n_bits=2, duration=6.0, dt=0.5)

    def model():
        return rr.RateRNN(task.n_in, 8, task.n_out, gain=0.9, seed=0, dt=0.5,
                          dtype=torch.float64)

    base = rr.train(model(), task, steps=1, batch_size=4, record_every=1)
    doubled = rr.train(model(), task, steps=1, batch_size=4, record_every=1,
                       loss=lambda out, batch: 2 * task.loss(out, batch))
    assert float(doubled.trajectory.loss[0]) == pytest.approx(2 * float(base.trajectory.loss[0]),
                                                              rel=1e-12)
