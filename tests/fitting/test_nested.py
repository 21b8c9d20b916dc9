"""One nested fit on one split, directly and as a sweep's ``fit:`` job with ``split:``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnrank.fitting import Recording
from rnnrank.fitting.nested import nested_fit, split_masks
from rnnrank.sweep import run_sweep


@pytest.fixture
def rec():
    g = torch.Generator().manual_seed(3)
    return Recording(data=torch.randn(8, 24, 10, generator=g, dtype=torch.float64).float(),
                     condition=np.arange(24) % 3)


def test_split_masks_are_disjoint_and_the_invariant_fit_does_not_vary_over_trials(rec):
    train, test = split_masks(rec, seed=1)
    assert not bool((train & test).any()) and bool(test.any()) and bool(train.any())
    n = nested_fit(rec, 2, n_rec=10, split_seed=1, max_iter=15)
    c_inv = n.invariant.factors[0]  # [K, R]: Z frozen at 0 → the same c for every trial
    assert torch.allclose(c_inv, c_inv[:1].expand_as(c_inv), atol=1e-6)
    s = n.summary()
    assert s["rank"] == 2 and s["n_rec"] == 10 and s["iterations"] <= 15
    assert s["hit_max_iter"] == (s["iterations"] >= 15)
    with pytest.raises(ValueError, match="scheme"):
        split_masks(rec, scheme="trials")


def test_a_sweep_fit_job_with_a_split_is_the_nested_fit(rec, tmp_path):
    path = tmp_path / "rec.npz"
    rec.save(path)
    spec = {"name": "nested", "fit": {"recording": str(path), "n_rec": 10, "rank": 2,
                                      "options": {"max_iter": 15}},
            "grid": {"split": [{"scheme": "blocks", "seed": 0}, {"scheme": "blocks", "seed": 1}]}}
    table = run_sweep(spec, tmp_path / "sweep", workers=1).sort_values("split.seed")
    for seed, row in zip((0, 1), table.itertuples(), strict=True):
        direct = nested_fit(rec, 2, n_rec=10, split_seed=seed, max_iter=15).summary()
        assert row.test_error == pytest.approx(direct["test_error"], rel=1e-6)
        assert row.invariant_test_error == pytest.approx(direct["invariant_test_error"],
                                                         rel=1e-6)
        assert row.learning_score == pytest.approx(direct["learning_score"], rel=1e-5, abs=1e-9)
    again = run_sweep(spec, tmp_path / "sweep", workers=1)
    assert again.attrs["already_complete"] == 2 and again.attrs["run_now"] == 0
