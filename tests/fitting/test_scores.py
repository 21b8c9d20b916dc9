"""The learning score against independent truths: exact zero, hand-computed values, planted and
frozen teachers."""

from __future__ import annotations

import math

import pytest
import torch

from rnnrank.fitting import (
    FitOptions,
    Recording,
    block_masks,
    fit_ltr,
    learning_score,
    ltr_teacher,
    oracle_budget,
    running_condition_mean,
)
from rnnrank.fitting.scores import condition_mean_prediction


def test_learning_score_by_hand():
    # two equal time bins, one neuron, one condition, trials 0..3; train = 0, 1; test = 2, 3
    y = torch.tensor([1.0, 3.0, 4.0, 0.0]).reshape(1, 4, 1).expand(2, 4, 1)
    rec = Recording(data=y.double())
    train = torch.tensor([True, True, False, False]).reshape(1, 4, 1).expand(2, 4, 1)
    test = ~train
    # data condition mean (train) = 2 → residuals on test: 2, −2
    pred = torch.tensor([0.0, 2.0, 2.0, 1.0]).reshape(1, 4, 1).expand(2, 4, 1).double()
    # prediction's condition mean over the same train entries = 1 → p on test: 1, 0
    expected = 1 - ((2 - 1) ** 2 + (-2 - 0) ** 2) / (2**2 + 2**2)
    assert learning_score(pred, rec, train, test) == pytest.approx(expected, abs=1e-12)
    # a perfect residual predictor scores 1 whatever its offset
    assert learning_score(y + 7.0, rec, train, test) == pytest.approx(1.0, abs=1e-12)


def test_trial_invariant_prediction_scores_exactly_zero():
    g = torch.Generator().manual_seed(0)
    rec = Recording(data=torch.randn(5, 12, 3, generator=g).double(),
                    condition=torch.arange(12) % 3)
    train, test = block_masks(rec.shape, fraction=0.2, h_train=(1, 1, 0), h_test=(0, 0, 0),
                              seed=1)
    per_cond = (0.1 * torch.randn(5, 3, 3, generator=g)).double() + 1 / 3  # not dyadic
    pred = per_cond[:, rec.condition]
    assert learning_score(pred, rec, train, test) == 0.0
    assert learning_score(condition_mean_prediction(rec, train), rec, train, test) == 0.0


@pytest.fixture(scope="module")
def teachers():
    kw = dict(T=12, K=40, n=16, N=16, rank=1, noise=0.01, seed=0)
    clean = ltr_teacher(**{**kw, "noise": 0.0})[0]
    return ltr_teacher(**kw)[0], ltr_teacher(**kw, frozen=True)[0], clean


def _fit(rec, train, frozen=(), seed=0):
    opts = FitOptions(lr=0.05, max_iter=1500, patience=300, frozen=frozen)
    return fit_ltr(rec, 1, n_rec=16, train_mask=train, options=opts, seed=seed,
                   dtype=torch.float64)


def test_trial_invariant_fit_scores_exactly_zero(teachers):
    rec = teachers[0]
    train, test = block_masks(rec.shape, fraction=0.2, seed=0)
    fit = _fit(rec, train, ("Z",))
    assert learning_score(fit, rec, train, test) == 0.0


def test_planted_learning_teacher_scores_above_zero_and_frozen_teacher_does_not(teachers):
    learner, frozen, clean = teachers
    scores = {"learner": [], "frozen": []}
    for s in range(3):
        train, test = block_masks(learner.shape, fraction=0.2, seed=s)
        # the oracle (noiseless teacher) has a positive budget on the learner, none when frozen
        assert oracle_budget(clean.data, learner, train, test) > 0
        for name, rec in (("learner", learner), ("frozen", frozen)):
            scores[name].append(learning_score(_fit(rec, train, seed=s), rec, train, test))
    mean = {k: sum(v) / 3 for k, v in scores.items()}
    se = {k: math.sqrt(sum((x - mean[k]) ** 2 for x in v) / 2 / 3) for k, v in scores.items()}
    # the oracle of this teacher scores ≈ 0.18; a rank-1 ltrRNN ≈ 0.15 on split 0
    assert mean["learner"] - 2 * se["learner"] > 0.05, scores
    assert min(scores["learner"]) > 0
    assert mean["frozen"] <= 2 * se["frozen"] + 1e-3, scores  # ≤ 0 within its error


def test_running_condition_mean_tracks_a_linear_drift():
    K = 60
    drift = torch.linspace(0, 3, K).double()
    rec = Recording(data=drift.reshape(1, K, 1).expand(2, K, 1).clone(),
                    condition=torch.zeros(K, dtype=torch.long))
    train = torch.ones(rec.shape, dtype=torch.bool)
    train[:, ::4] = False
    test = ~train
    oracle = running_condition_mean(rec, train, width=3.0)
    # away from the ends a symmetric kernel reproduces a linear function
    mid = slice(15, 45)
    assert torch.allclose(oracle[:, mid], rec.data[:, mid], atol=0.02)
    assert oracle_budget(oracle, rec, train, test) > 0.9


def test_learning_score_rejects_bad_shapes():
    rec = Recording(data=torch.zeros(3, 4, 2))
    m = torch.ones(3, 4, 2, dtype=torch.bool)
    with pytest.raises(ValueError, match="pred: expected shape"):
        learning_score(torch.zeros(3, 4, 1), rec, m, m)
    with pytest.raises(ValueError, match="test_mask"):
        learning_score(torch.zeros(3, 4, 2), rec, m, m[:, :2])
