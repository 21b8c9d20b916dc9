"""Cross-validation: block masks against a brute-force buffer check, schemes, rank rule, CLI."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rnnrank.cli import main
from rnnrank.fitting import FitOptions, block_masks, cross_validate, ltr_teacher
from rnnrank.fitting.crossval import CVResult


def test_block_masks_leave_a_buffer_between_train_and_test():
    shape = (12, 14, 5)
    h_train, h_test = (3, 2, 1), (1, 1, 0)
    train, test = block_masks(shape, fraction=0.1, h_train=h_train, h_test=h_test, seed=0)
    assert test.any() and train.any() and not (train & test).any()
    gap = [a - b for a, b in zip(h_train, h_test, strict=True)]
    # brute force: no training entry within the ring (gap per axis) of any test entry
    for t, k, i in zip(*np.nonzero(test.numpy()), strict=True):
        for dt, dk, di in itertools.product(*(range(-g, g + 1) for g in gap)):
            u, v, w = t + dt, k + dk, i + di
            if 0 <= u < shape[0] and 0 <= v < shape[1] and 0 <= w < shape[2]:
                assert not train[u, v, w], (t, k, i, u, v, w)


def test_block_masks_have_no_ring_when_boxes_are_equal():
    shape, h = (10, 10, 4), (1, 1, 1)
    train, test = block_masks(shape, fraction=0.05, h_train=h, h_test=h, seed=2)
    assert torch.equal(train, ~test)  # no ring when h_train = h_test


def test_best_rank_one_standard_error_rule():
    cv = CVResult("blocks", "mse", {1: [0.50, 0.52], 2: [0.20, 0.24], 3: [0.19, 0.23],
                                    4: [0.21, 0.22]})
    # best mean 0.21 (rank 3), SE = sd/√2 = 0.0283/1.414 = 0.02; rank 2 (0.22) ≤ 0.23: 2
    assert cv.best_rank == 2
    single = CVResult("blocks", "mse", {1: [0.5], 2: [0.2], 3: [0.199]})
    assert single.best_rank == 2  # within 1% of the best


@pytest.mark.parametrize("scheme", ["blocks", "trials", "neurons"])
def test_schemes_run_and_score_held_out_data(scheme):
    rec, _ = ltr_teacher(T=8, K=16, n=6, N=8, rank=1, noise=0.02, seed=1)
    cv = cross_validate(rec, [1], scheme=scheme, n_rec=8, dtype=torch.float64,
                        options=FitOptions(max_iter=40, eval_every=10))
    assert set(cv.scores) == {1} and np.isfinite(cv.scores[1])
    assert any("trial-invariant" in k for k in cv.baselines)
    assert cv.best_rank == 1


def test_cli_fit_and_cv(tmp_path, capsys):
    rec, _ = ltr_teacher(T=8, K=12, n=5, N=6, rank=1, noise=0.02, seed=0, dtype=torch.float32)
    rec.save(tmp_path / "s.npz")
    out = tmp_path / "fit"
    code = main(["fit", str(tmp_path / "s.npz"), "--rank", "1", "--n-rec", "6", "--max-iter",
                 "20", "--out", str(out), "--json"])
    assert code == 0 and (out / "fit.pt").exists()
    code = main(["fit", str(tmp_path / "s.npz"), "--cv", "--ranks", "1-2", "--n-rec", "6",
                 "--max-iter", "20", "--out", str(tmp_path / "cv"), "--json"])
    assert code == 0 and (tmp_path / "cv" / "cv.png").exists()


@pytest.mark.parametrize("args, match", [
    (["--rank", "0"], "--rank must be ≥ 1"),
    (["--cv", "--ranks", "x"], "--ranks expects"),
    (["--loss", "huber"], "loss must be one of"),
])
def test_cli_fit_bad_input_exits_2(tmp_path, capsys, args, match):
    rec, _ = ltr_teacher(T=6, K=4, n=3, N=4, rank=1, seed=0, dtype=torch.float32)
    rec.save(tmp_path / "s.npz")
    code = main(["fit", str(tmp_path / "s.npz"), "--max-iter", "2", "--out",
                 str(tmp_path / "o"), *args])
    err = capsys.readouterr().err
    assert code == 2 and match in err and len(err.strip().splitlines()) == 1


def test_cli_fit_missing_file_exits_2(tmp_path, capsys):
    assert main(["fit", str(tmp_path / "none.nwb")]) == 2
