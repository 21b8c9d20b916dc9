"""Trajectory store: lazy reads, the authoritative snapshot count, in-memory and on-disk stores."""

from __future__ import annotations

import numpy as np
import pytest

from rnnrank.store import Trajectory, TrajectoryWriter, load_trajectory


def _write(path, n_snap=5, capacity=3):
    w = TrajectoryWriter(path, {"W": (4, 4), "b": (4,)}, n_members=1, capacity=capacity)
    for k in range(n_snap):
        w.append(10 * k, {"W": np.full((4, 4), k, np.float32), "b": np.arange(4.0) + k},
                 loss=np.array([1.0 / (k + 1)]), score=np.array([k / 10]))
    w.flush()
    return w


def test_round_trip_and_lazy_indexing(tmp_path):
    _write(tmp_path, n_snap=5, capacity=3)  # capacity grows by doubling
    traj = load_trajectory(tmp_path)
    assert len(traj) == 5 and traj.weights.shape == (5, 4, 4)
    np.testing.assert_array_equal(traj.steps, [0, 10, 20, 30, 40])
    assert traj.weights[-1][0, 0] == 4 and traj.weights[1:3].shape == (2, 4, 4)
    assert traj.weights[[0, 4]][:, 0, 0].tolist() == [0, 4]
    np.testing.assert_array_equal(traj.delta(), np.full((4, 4), 4.0))
    np.testing.assert_allclose(traj.loss, 1 / np.arange(1, 6))
    with pytest.raises(IndexError, match="out of range"):
        traj.weights[5]
    with pytest.raises(KeyError, match="was not recorded"):
        traj.parameter("V")


def test_the_count_is_authoritative(tmp_path):
    w = _write(tmp_path, n_snap=4, capacity=8)
    # A chunk written after the count (as if killed before the count was updated) is invisible.
    w.group["W"][4] = np.full((4, 4), 99, np.float32)
    traj = load_trajectory(tmp_path)
    assert len(traj) == 4 and np.asarray(traj.weights).max() == 3
    w.truncate(2)
    assert len(load_trajectory(tmp_path)) == 2


def test_in_memory_store():
    w = _write(None, n_snap=3)
    traj = w.reader()
    assert traj.path is None and np.asarray(traj.weights).shape == (3, 4, 4)


def test_missing_store_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="no trajectory"):
        Trajectory.open(tmp_path)
