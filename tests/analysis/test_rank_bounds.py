"""Rank bounds of gradient descent checked on networks trained here (float64).

Each bound is tested where it must hold and, as a control, where its assumption is broken and
the bound is exceeded, so the checks can fail.
"""

from __future__ import annotations

import numpy as np
import torch

import rnnrank as rr
from rnnrank.analysis.rank_bounds import (
    check_linear_zero_init,
    check_single_updates,
    single_update_bound,
)

FF = dict(n_bits=2, duration=10.0, interval=(2.0, 4.0), settle=1.0, pulse_duration=0.5, dt=0.5)


def _train(gain, nonlinearity, optimizer, lr, steps=12, batch_size=8, record_every=1, n_rec=40):
    task = rr.tasks.make("flipflop", **FF)
    model = rr.RateRNN(task.n_in, n_rec, task.n_out, gain=gain, seed=2, dt=0.5,
                       nonlinearity=nonlinearity, dtype=torch.float64)
    run = rr.train(model, task, steps=steps, lr=lr, optimizer=optimizer, batch_size=batch_size,
                   record_every=record_every)
    return task, np.asarray(run.trajectory.weights)


def test_linear_from_zero_stays_within_inputs_plus_outputs():
    task, w = _train(0.0, "identity", "sgd", 0.2, steps=30, record_every=3)
    check = check_linear_zero_init(w, task.n_in, task.n_out)
    assert check.holds, check
    assert max(check.measured) == 4  # the bound d_in + d_out = 4 is reached, not just obeyed
    assert check.multilinear[1:] == (4, 4)


def test_adam_breaks_the_zero_init_bound():
    task, w = _train(0.0, "identity", "adam", 1e-2, steps=10, record_every=5)
    assert not check_linear_zero_init(w, task.n_in, task.n_out).holds


def test_single_update_rank_bounds_for_generic_w0():
    T = int(FF["duration"] / FF["dt"])  # 20 steps per trial
    # linear: min(T·B, T·(d_in+1), T·d_out) = min(40, 60, 40) = 40 ≤ N = 60 → bound 40
    task, w = _train(1.2, "identity", "sgd", 0.1, steps=4, batch_size=2, n_rec=60)
    bound = single_update_bound(T, 2, task.n_in, task.n_out, 60, linear=True)
    check = check_single_updates(w, bound)
    assert bound.matrix_rank == 40 and check.holds, check
    # tanh: only T·B = 20 with B = 1; attained up to the t = 0 term, which vanishes because
    # r[0] = φ(x0) = tanh(0) = 0
    task, w = _train(1.2, "tanh", "sgd", 0.1, steps=4, batch_size=1, n_rec=60)
    bound = single_update_bound(T, 1, task.n_in, task.n_out, 60, linear=False)
    check = check_single_updates(w, bound)
    assert check.holds and max(check.measured) == 19, check
    # control: two updates together exceed a one-update bound
    two = check_single_updates(w[::2], bound)
    assert not two.holds
