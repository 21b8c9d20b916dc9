"""The plateau test and the fraction-of-improvement helpers on planted curves (float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnrank.analysis import plateau as pl

K = 1001
U = np.arange(K, dtype=np.float64)


def exp_curve(tau, floor=0.02, amp=1.0, u=U):
    return floor + amp * np.exp(-u / tau)


def test_an_exponential_decay_that_has_flattened_is_a_plateau():
    # τ = 50: over the last quarter (k ≥ 750) the excess is e^{-15}/0.02 ≈ 2e-5 of the loss
    t = pl.plateau_test(U, exp_curve(50.0))
    assert t.plateaued, t.reason
    assert 0 <= t.drop < 1e-4 and t.decline < 1e-4
    assert t.window == (750.0, 1000.0) and t.n_points == 251


def test_a_curve_still_falling_linearly_in_log_is_not():
    # ln L = −k/200: the window's end means are 0.8·250/200 = 1.0 apart, 20× the tolerance
    t = pl.plateau_test(U, np.exp(-U / 200.0))
    assert not t.plateaued and "fell" in t.reason
    assert t.drop == pytest.approx(1.0, rel=1e-9)
    assert t.slope == pytest.approx(-1 / 200.0, rel=1e-9)
    # a slower exponential (τ = 400) still loses 1 − e^{-0.5}·… of its excess in the window
    assert not pl.plateau_test(U, exp_curve(400.0, floor=1e-3)).plateaued


def test_a_noisy_flat_curve_is_a_plateau_with_margin():
    # ln L = ln 0.01 + 0.05 ε per record, 5 seeds: the drop's s.d. is
    # 0.05·√(2/51)/√5 ≈ 0.0044, the tolerance 0.05 is > 10 s.d.; the slope's s.d. times the
    # span (250) is 0.05·√(12/251)/√5 ≈ 0.005, so a "decline" ≥ 0.05 is > 10 s.d. away too
    rng = np.random.default_rng(7)
    losses = 0.01 * np.exp(0.05 * rng.standard_normal((5, K)))
    t = pl.plateau_test(U, losses)
    assert t.plateaued, t.reason
    assert abs(t.drop) < 0.02 and abs(t.decline) < 0.02
    # one seed alone: s.d. ≈ 0.01 each, still far inside the tolerance
    assert all(pl.plateau_test(U, c).plateaued for c in losses)


def test_a_noisy_curve_still_falling_is_not_a_plateau():
    """Falling 0.3 in ln L over the window, under noise of 0.1 per record: A sees 0.24."""
    rng = np.random.default_rng(3)
    y = -0.3 * U / 250.0 + 0.1 * rng.standard_normal(K)
    t = pl.plateau_test(U, np.exp(y))
    assert not t.plateaued
    assert t.slope < -2 * t.slope_se


def test_slope_criterion_alone_can_refuse_a_plateau():
    """Criterion B catches what A's end means miss: the window's first and last fifths sit at
    ln L = 0 and −0.04 (drop 0.04 < tol), but the 150 records between fall to −0.2; the
    least-squares decline over the window is 0.108 at 9.6 s.e. (computed: slope −4.3e-4 ±
    4.5e-5 per update)."""
    y = np.zeros(K)
    mid = (U > 800) & (U < 950)
    y[mid] = -0.2 * (U[mid] - 800) / 150
    y[U >= 950] = -0.04
    t = pl.plateau_test(U, np.exp(y))
    assert t.drop == pytest.approx(0.04, abs=1e-9)
    assert t.decline == pytest.approx(0.108, abs=1e-3) and not t.plateaued
    assert "slope" in t.reason


def test_records_every_ten_updates_and_bad_input():
    u = np.arange(0, 2001, 10.0)
    assert pl.plateau_test(u, exp_curve(80.0, u=u)).plateaued
    with pytest.raises(ValueError, match="need ≥ 8"):
        pl.plateau_test(np.arange(20.0), np.ones(20), window=0.25)
    with pytest.raises(ValueError, match="> 0"):
        pl.plateau_test(U, np.zeros(K))
    with pytest.raises(ValueError, match="strictly increasing"):
        pl.plateau_test(U[::-1], np.ones(K))
    with pytest.raises(ValueError, match=r"\[S, K\]"):
        pl.plateau_test(U, np.ones((2, 3, K)))


@pytest.mark.parametrize("fraction", [0.5, 0.9, 0.99])
def test_updates_to_fraction_of_an_exponential_equals_its_closed_form(fraction):
    """L = L∞ + A e^{-k/τ} recorded every update to K = 1000. Linear scale: k* = −τ ln(1 −
    f(1 − e^{−K/τ})); log scale: L(k*) = L0^{1−f} L_K^f. Linear interpolation between records
    errs by at most h²/(8τ) = 1/1200 update (h = 1): atol 0.01."""
    tau, floor, amp = 150.0, 0.02, 1.0
    losses = exp_curve(tau, floor, amp)
    lin = -tau * math.log(1 - fraction * (1 - math.exp(-1000 / tau)))
    assert pl.updates_to_fraction(U, losses, fraction, scale="linear") == pytest.approx(
        lin, abs=0.01)
    l0, lk = losses[0], losses[-1]
    target = l0 ** (1 - fraction) * lk ** fraction
    log = -tau * math.log((target - floor) / amp)
    assert pl.updates_to_fraction(U, losses, fraction) == pytest.approx(log, abs=0.01)
    # several seeds at once: one value each
    both = pl.updates_to_fraction(U, np.stack([losses, exp_curve(2 * tau, floor, amp)]),
                                  fraction, scale="linear")
    assert both.shape == (2,) and both[0] == pytest.approx(lin, abs=0.01)


def test_improvement_fraction_runs_from_0_to_1_and_is_nan_without_improvement():
    f = pl.improvement_fraction(exp_curve(100.0))
    assert f[0] == 0 and f[-1] == pytest.approx(1.0) and np.all(np.diff(f) > 0)
    assert np.isnan(pl.improvement_fraction(np.linspace(1, 2, 50))).all()
    assert math.isnan(pl.updates_to_fraction(np.arange(50), np.linspace(1, 2, 50)))
    # smoothing: under noise of 0.05 in ln L per record, a centred average of 51 records
    # brings the 90 % crossing within 15 updates of the noiseless 672.1 (over 200 seeds:
    # mean +1.8, s.d. 4.2, largest 13.5; this seed +10.5)
    rng = np.random.default_rng(11)
    clean = exp_curve(150.0)
    noisy = clean * np.exp(0.05 * rng.standard_normal(K))
    assert pl.updates_to_fraction(U, clean, 0.9) == pytest.approx(672.1, abs=0.05)
    assert pl.updates_to_fraction(U, noisy, 0.9, smooth=51) == pytest.approx(672.1, abs=15)
    with pytest.raises(ValueError, match="scale"):
        pl.improvement_fraction(np.ones(5), scale="ln")
    with pytest.raises(ValueError, match="fraction"):
        pl.updates_to_fraction(U, exp_curve(10.0), 0.0)
