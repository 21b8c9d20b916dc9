"""The ensemble-axis helpers, and a single network = its ensemble of one in every layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.ensemble import check_member, select_member, with_members, without_members


@pytest.mark.parametrize("make", [np.arange, torch.arange])
def test_axis_round_trip(make):
    x = make(12).reshape(3, 4)
    assert tuple(with_members(x, False, axis=1).shape) == (3, 1, 4)
    assert with_members(x, True) is x and without_members(x, True) is x
    assert (without_members(with_members(x, False, axis=1), False, axis=1) == x).all()
    assert (select_member(x, 2, True) == x[2]).all() and select_member(x, None, False) is x


def test_member_validation():
    assert check_member(1, True, size=3) == 1 and check_member(None, False) is None
    with pytest.raises(ValueError, match="pass member=e"):
        check_member(None, True)
    with pytest.raises(ValueError, match=r"member must be in 0..2, got 3"):
        check_member(3, True, size=3)
    with pytest.raises(ValueError, match="single network; got member=1"):
        check_member(1, False)


def test_single_network_equals_its_ensemble_of_one():
    task = rr.tasks.make("flipflop", n_bits=2, duration=10.0, dt=0.5)
    kw = dict(dt=0.5, dtype=torch.float64)
    one = rr.RateRNN(task.n_in, 12, task.n_out, gain=1.5, seed=3, **kw)
    ens = rr.RateRNN(task.n_in, 12, task.n_out, gain=[1.5], seed=[3], **kw)
    assert one.W.shape == (12, 12) and ens.W.shape == (1, 12, 12)
    a = rr.train(one, task, steps=4, batch_size=4, record_every=2, grad_clip=0.5)
    b = rr.train(ens, task, steps=4, batch_size=4, record_every=2, grad_clip=0.5)
    w_a, w_b = np.asarray(a.trajectory.weights), np.asarray(b.trajectory.weights)
    assert w_a.shape == (3, 12, 12) and w_b.shape == (3, 1, 12, 12)
    np.testing.assert_array_equal(w_a, w_b[:, 0])  # same arithmetic, only the layout differs
    np.testing.assert_array_equal(a.trajectory.loss, b.trajectory.loss[:, 0])
    x = task.sample(3, generator=torch.Generator().manual_seed(0)).inputs.double()
    torch.testing.assert_close(one(x), ens(x)[:, 0], rtol=0, atol=0)
