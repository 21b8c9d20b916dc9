"""Trajectory store: lazy reads, the authoritative snapshot count, in-memory and on-disk stores."""

from __future__ import annotations

import numpy as np
import pytest

from rnnrank.store import IncompleteTrajectory, Trajectory, TrajectoryWriter, load_trajectory


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


def test_a_deleted_chunk_is_named_not_read_as_nan(tmp_path):
    """A trajectory cut short after it was counted (chunk files of snapshots 3 and 4 deleted)
    must be refused at open, naming those snapshots, never read back as zarr's NaN fill."""
    _write(tmp_path, n_snap=5, capacity=8)
    for k in (3, 4):
        (tmp_path / "trajectory.zarr" / "W" / "c" / str(k) / "0" / "0").unlink()
    with pytest.raises(IncompleteTrajectory, match=r"2 of 5 snapshots .*k = 3, 4.*first 3"):
        load_trajectory(tmp_path)
    prefix = load_trajectory(tmp_path, complete_prefix=True)
    assert len(prefix) == 3 and not np.isnan(np.asarray(prefix.weights)).any()
    np.testing.assert_array_equal(np.asarray(prefix.weights)[:, 0, 0], [0, 1, 2])


def test_an_undecodable_chunk_names_its_snapshot(tmp_path):
    _write(tmp_path, n_snap=3, capacity=4)
    (tmp_path / "trajectory.zarr" / "W" / "c" / "1" / "0" / "0").write_bytes(b"\x00garbage")
    traj = load_trajectory(tmp_path)
    assert traj.weights[0][0, 0] == 0
    with pytest.raises(IncompleteTrajectory, match="snapshot 1 of 'W' is unreadable"):
        traj.weights[1]


def test_the_cli_reports_a_truncated_run_in_one_line(tmp_path, capsys):
    from rnnrank.cli import main

    out = tmp_path / "ff"
    assert main(["train", "--out", str(out), "--task-option", "n_bits=2", "--task-option",
                 "duration=10", "--n-rec", "8", "--steps", "4", "--record-every", "1",
                 "--dt", "0.5", "--json"]) == 0
    capsys.readouterr()
    (out / "trajectory.zarr" / "W" / "c" / "4" / "0" / "0").unlink()
    assert main(["analyze", str(out), "--matrix-rank", "--batch-size", "8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "k = 4" in err and "complete_prefix=True" in err
