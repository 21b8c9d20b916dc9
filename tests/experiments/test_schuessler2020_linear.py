"""The linear model of Schuessler et al. (2020) as the authors simulated it."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from rnnrank.analysis import linear_theory as lt
from rnnrank.experiments.schuessler2020 import claims
from rnnrank.experiments.schuessler2020 import linear as lin


def test_one_draw_follows_the_published_recipe():
    """lr = lr0·(1 − g²)², losses normalised by ẑ²/2, the loss falls below 5 % of it, and the
    learning time to get there is lr·epoch (small N: a few ms)."""
    r = lin.simulate_one(64, 0.5, 0.5, 0.015, 200, seed=3)
    assert r["lr"] == pytest.approx(0.015 * 0.75**2)
    assert r["loss"][0] == pytest.approx((0.5 - r["z0"]) ** 2 / 0.25)
    assert r["epoch_c"] is not None and r["loss"][r["epoch_c"]] < 0.05
    assert r["loss"][r["epoch_c"] - 1] >= 0.05
    assert r["time_c"] == pytest.approx(r["lr"] * r["epoch_c"])
    with pytest.raises(ValueError, match="0 <= g < 1"):
        lin.simulate_one(8, 1.0, 0.5, 0.015, 2, seed=0)


def test_summary_puts_the_theory_beside_the_draws():
    rows = lin.run_linear(48, (0.0, 0.5), (0.5,), (0.015,), epochs=150, draws=2)
    s = lin.summarise_linear(rows)
    assert [(e["z_hat"], e["g"], e["n"]) for e in s] == [(0.5, 0.0, 2), (0.5, 0.5, 2)]
    assert s[0]["time_ratio"] == 1.0
    assert s[1]["shuffle_theory"] == pytest.approx(0.25**2 * 1.75**2)
    assert s[1]["time_ratio_theory"] == pytest.approx(0.75**2)
    assert s[1]["delta_norm_theory"] == pytest.approx(0.5 * 0.75)


# The check at the published setup: N = 1024, 5 draws, ẑ = 0.5 (lr0 = 0.015), 200
# epochs, float64; 20 independent permutations of W0 per draw only average the permutation
# noise (the authors permute once). Measured (see the report): the ratio lands within 15 % at
# g = 0.9 but exceeds g⁴(2 − g²)² by ≈ 20–90 % at g = 0.3 and 0.6 on every set of draws tried.
# Not a normalisation artefact (a measured L0 instead of ẑ²/2 moves it < 10 %) nor z0 (w
# projected so that z0 = 0 changes nothing): at N = 1024 the shuffled network keeps a random
# output part of variance ≈ (β − 1)/N (dominant for small ẑ), and for ẑ ≳ 0.5 the trained ΔW
# departs from the first-order rank-one W1 the formula assumes (‖ΔW‖ = 0.87 ẑ at g = 0).
# The strict xfail keeps the deviation visible: it fails the suite if the check starts passing.
@functools.cache
def _published_setup(g: float) -> tuple[list[dict], dict]:
    """The draws and summary at the published setup, ẑ = 0.5, for one g (shared by the tests)."""
    rows = lin.run_linear(1024, (g,), (0.5,), (0.015,), epochs=200, draws=5, n_shuffles=20)
    (e,) = lin.summarise_linear(rows)
    return rows, e


@pytest.mark.slow  # ~1 min on 2 loaded cores
@pytest.mark.parametrize("g", [
    pytest.param(0.3, marks=pytest.mark.xfail(strict=True, reason="finite N and ẑ: +20–90 %")),
    pytest.param(0.6, marks=pytest.mark.xfail(strict=True, reason="finite N and ẑ: +20–50 %")),
    0.9])
def test_linear_shuffle_ratio_lands_within_15_percent_of_theory(g):
    rows, e = _published_setup(g)
    assert e["n"] == 5
    assert e["shuffle"] == pytest.approx(float(lt.shuffle_ratio(g)), rel=0.15)
    assert np.all(np.array([r["loss"][-1] for r in rows]) < 0.05)  # trained to convergence


# The rule that replaced the one above (issue 32): the authors' own simulated points at
# ẑ = 0.5 (read off their Fig. 4, ≈ 0.064 at g = 0.3 and 0.545 at g = 0.6, ± 15 %) lie above
# the leading-order formula as ours do; the same draws, judged as the reproduction judges them.
@pytest.mark.slow  # the draws of the test above (cached), or ~1 min alone
@pytest.mark.parametrize("g", [0.3, 0.6])
def test_linear_shuffle_ratio_reproduces_the_authors_simulated_points(g):
    _, e = _published_setup(g)
    (c,) = [c for c in claims.linear_claims([e], gains=(g,)) if c["claim"] == claims.LIN_SHUFFLE]
    assert c["paper"] == claims.LINEAR_DIGITISED["shuffle"][(0.5, g)]
    assert c["verdict"] == "reproduced", (c["ours"], c["se"], c["paper"])
