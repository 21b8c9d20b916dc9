"""Verdict logic of the Pellegrino et al. (2023) claims, case by case."""

from __future__ import annotations

import math

from rnnrank.experiments.pellegrino2023.claims import (
    INCONCLUSIVE,
    NOT,
    REPRODUCED,
    learning_verdict,
    nearest_grid_rank,
    rank_low_verdict,
    rank_match_verdict,
    recovery_verdict,
    teacher_can_test,
)


def test_learning_budget_below_spread_is_inconclusive_whatever_the_scores():
    v = learning_verdict((0.5, 0.01), (-0.1, 0.01), budget=0.004, spread=0.005)
    assert v["verdict"] == INCONCLUSIVE and "budget" in v["reason"]
    # equal is not enough either
    assert learning_verdict((0.5, 0.01), (0.0, 0.01), budget=0.01,
                            spread=0.01)["verdict"] == INCONCLUSIVE


def test_learning_reproduced_needs_score_above_zero_and_null_not_above():
    kw = dict(budget=0.05, spread=0.01)
    assert learning_verdict((0.30, 0.05), (-0.2, 0.05), **kw)["verdict"] == REPRODUCED
    # score within 2 s.e. of zero: not shown
    assert learning_verdict((0.09, 0.05), (-0.2, 0.05), **kw)["verdict"] == NOT
    # null control significantly above zero: the method sees learning that is not there
    v = learning_verdict((0.30, 0.05), (0.15, 0.05), **kw)
    assert v["verdict"] == NOT and "null" in v["reason"]
    # null above 0 but within its error: fine
    assert learning_verdict((0.30, 0.05), (0.05, 0.05), **kw)["verdict"] == REPRODUCED
    assert learning_verdict((math.nan, 0.1), (0, 0.1), **kw)["verdict"] == INCONCLUSIVE


def test_rank_low_and_match():
    assert rank_low_verdict(3, 0.05)["verdict"] == REPRODUCED
    assert rank_low_verdict(8, 0.01)["verdict"] == NOT
    assert rank_low_verdict(2, 0.4)["verdict"] == INCONCLUSIVE
    grid = (1, 2, 3, 4, 5, 10, 20)
    assert rank_match_verdict(3, 3, grid, REPRODUCED)["verdict"] == REPRODUCED
    assert rank_match_verdict(3, 4, grid, NOT)["verdict"] == NOT
    assert rank_match_verdict(3, 3, grid, INCONCLUSIVE)["verdict"] == INCONCLUSIVE
    assert rank_match_verdict(3, None, grid, REPRODUCED)["verdict"] == INCONCLUSIVE
    # a teacher's rank between grid points: the nearest grid rank (both on a tie) is a match
    assert nearest_grid_rank(8, grid) == [10] and nearest_grid_rank(15, grid) == [10, 20]
    assert rank_match_verdict(8, 10, grid, REPRODUCED)["verdict"] == REPRODUCED
    assert rank_match_verdict(8, 5, grid, REPRODUCED)["verdict"] == NOT
    assert rank_match_verdict(15, 20, grid, REPRODUCED)["verdict"] == REPRODUCED


def test_the_teacher_gate_needs_learning_above_the_splits_spread():
    assert teacher_can_test(0.02, 0.005)["verdict"] == REPRODUCED
    bad = teacher_can_test(0.004, 0.005)
    assert bad["verdict"] == INCONCLUSIVE and "cannot test" in bad["reason"]
    assert teacher_can_test(0.005, 0.005)["verdict"] == INCONCLUSIVE
    assert teacher_can_test(math.nan, 0.005)["verdict"] == INCONCLUSIVE


def test_recovery_against_chance():
    assert recovery_verdict((20.0, 2.0), 60.0, (0.8, 0.05), 0.3)["verdict"] == REPRODUCED
    assert recovery_verdict((70.0, 2.0), 60.0, (0.2, 0.05), 0.3)["verdict"] == NOT
    assert recovery_verdict((20.0, 2.0), 60.0, (0.2, 0.05), 0.3)["verdict"] == INCONCLUSIVE
    # within 2 s.e. of the threshold does not count as beating chance
    assert recovery_verdict((57.0, 2.0), 60.0, (0.8, 0.05), 0.3)["verdict"] == INCONCLUSIVE
