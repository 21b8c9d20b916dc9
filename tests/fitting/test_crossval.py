"""Cross-validation: block masks against a brute-force buffer check, schemes, rank rule, CLI."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from rnnrank.cli import main
from rnnrank.fitting import FitOptions, block_masks, cross_validate, fit_ltr, ltr_teacher
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
    cv = CVResult("blocks", "mse", {1: [0.50, 0.52, 0.51], 2: [0.20, 0.24, 0.22],
                                    3: [0.18, 0.22, 0.20], 4: [0.21, 0.22, 0.23]})
    # best mean 0.20 (rank 3), SE = sd/√3 = 0.02/1.732 = 0.01155; rank 2 (0.22) > 0.2115: 3
    assert cv.best_rank == 3
    cv.all_scores[2] = [0.20, 0.22, 0.21]  # 0.21 ≤ 0.2115 → rank 2
    assert cv.best_rank == 2
    two = CVResult("blocks", "mse", {1: [0.5, 0.5], 2: [0.2, 0.21], 3: [0.199, 0.2]})
    assert two.best_rank == 3  # < 3 splits: no standard error, the best mean wins


def test_rank_chosen_on_the_learning_score():
    cv = CVResult("blocks", "mse", {r: [0.1, 0.1, 0.1] for r in (1, 2, 3, 4)},
                  learning={1: [0.0, 0.02, 0.01], 2: [0.20, 0.24, 0.22],
                            3: [0.25, 0.27, 0.26], 4: [0.25, 0.29, 0.27]},
                  select="learning")
    # best mean 0.27 (rank 4), SE = 0.02/√3 = 0.01155: rank 3 (0.26 ≥ 0.2585) qualifies
    assert cv.best_rank == 3 and cv.rank_by("learning") == 3
    assert cv.rank_by("error") == 1  # flat error: the smallest rank
    summary = cv.summary()
    assert summary["3"]["learning"][0] == pytest.approx(0.26)
    assert summary["3"]["learning"][1] == pytest.approx(0.01 / 3**0.5)
    with pytest.raises(ValueError, match="select must be one of"):
        CVResult("blocks", "mse", {}, select="best")


def test_nested_fit_starts_at_the_trial_invariant_fit():
    rec, _ = ltr_teacher(T=8, K=16, n=6, N=8, rank=1, noise=0.02, seed=1)
    train, _ = block_masks(rec.shape, fraction=0.2, seed=0)
    kw = dict(n_rec=8, dtype=torch.float64, train_mask=train)
    inv = fit_ltr(rec, 1, options=FitOptions(max_iter=60, eval_every=10, frozen=("Z",)), **kw)
    assert torch.equal(inv.params["Z"], torch.zeros_like(inv.params["Z"]))
    # one iteration at lr → 0: the warm-started fit is the trial-invariant fit
    tiny = FitOptions(lr=1e-12, max_iter=1, eval_every=1, val_fraction=0.0)
    warm = fit_ltr(rec, 1, options=tiny, init=inv, **kw)
    torch.testing.assert_close(warm.predict(), inv.predict(), atol=1e-9, rtol=0)
    cold = fit_ltr(rec, 1, options=tiny, **kw)
    assert (cold.predict() - inv.predict()).abs().max() > 1e-3
    # after fitting, the nested ltrRNN does not do worse on its training entries
    nested = fit_ltr(rec, 1, options=FitOptions(max_iter=60, eval_every=10), init=inv, **kw)
    assert nested.train_error <= inv.train_error + 1e-3
    with pytest.raises(ValueError, match="init: parameter"):
        fit_ltr(rec, 2, options=tiny, init=inv, **kw)


def test_cross_validate_reports_splits_and_warm_start():
    rec, _ = ltr_teacher(T=8, K=16, n=6, N=8, rank=1, noise=0.02, seed=1)
    cv = cross_validate(rec, [1, 2], n_rec=8, dtype=torch.float64, warm_start=True,
                        options=FitOptions(max_iter=30, eval_every=10))
    assert cv.n_splits == 3
    assert set(cv.invariant) == {1, 2} and all(len(v) == 3 for v in cv.invariant.values())
    assert all(v == 0.0 for vs in cv.invariant_learning.values() for v in vs)
    assert all(len(cv.learning[r]) == 3 for r in (1, 2))
    assert cv.best_rank in (1, 2)


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
