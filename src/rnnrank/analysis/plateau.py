"""Has learning finished? A plateau test on loss curves, and the fraction of final improvement.

Comparing learning rules by their loss after a fixed, small budget compares them at different
stages of learning when one rule is fast and another slow (issue 33: at 100 updates BPTT had
converged on Mante, e-prop and RFLO were mid-learning). Two tools make the comparison fair:

* ``plateau_test``: has a curve stopped falling? The rule (natural log of the loss, ``y = ln L``,
  so a change of ``y`` is a relative change of ``L``), over the *window*, the last ``window``
  fraction of the run's updates:

  A. the smoothed drop — mean of ``y`` over the window's first ``edge`` fraction minus its mean
     over the window's last ``edge`` fraction — is below ``tol`` (0.05: the loss fell by less
     than ≈ 5 % over the last quarter of the run), and
  B. the least-squares slope ``b`` of ``y`` against the update over the window is not negative
     beyond ``z`` = 2 standard errors — unless the decline it fits, ``−b × span``, is itself
     below ``tol``. (The exception is ours: the power of a slope test grows with the number of
     updates and seeds, so without it any drift, however small, would count as "still
     learning"; the decline must be both significant and as large as ``tol`` to count.)

  plateaued = A and B. A rising or flat curve passes; only a curve still falling fails.
  Several seeds ``[S, K]`` are tested as the mean of ``y`` over seeds (the geometric-mean
  curve; the residual spread of that curve gives B's standard error).

* ``improvement_fraction`` / ``updates_to_fraction``: how far a curve has come, as the fraction
  ``f(k) = (s(0) − s(k)) / (s(0) − s(end))`` of its final improvement (``s`` the loss, or its
  log for ``scale="log"``, optionally smoothed by a centred moving average of ``smooth``
  records), and the update at which it first reaches ``f`` — linear interpolation between the
  two records that bracket the crossing — so that rules can be compared at equal fractions
  of their final improvement rather than at equal updates.

Shapes: ``updates [K]`` (strictly increasing, e.g. ``0, 1, …`` or every ``record_every``);
``losses [K]`` or ``[S, K]`` (S seeds or members), positive.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

SCALES = ("log", "linear")


@dataclass(frozen=True)
class PlateauTest:
    """The outcome of ``plateau_test``.

    ``drop``: criterion A's smoothed drop of ln L over the window (> 0: still falling);
    ``slope`` / ``slope_se``: criterion B's least-squares slope of ln L per update and its
    standard error; ``decline``: ``−slope × span`` (the fall the slope implies over the window);
    ``window``: (first, last) update of the window; ``n_points``: records in it; ``reason``:
    the rule's outcome in words.
    """

    plateaued: bool
    drop: float
    slope: float
    slope_se: float
    decline: float
    window: tuple[float, float]
    n_points: int
    reason: str

    def to_dict(self) -> dict:
        return {**asdict(self), "window": list(self.window)}


def _curves(updates, losses) -> tuple[np.ndarray, np.ndarray]:
    """(updates [K] float64, losses [S, K] float64), validated."""
    u = np.asarray(updates, dtype=np.float64)
    y = np.asarray(losses, dtype=np.float64)
    if u.ndim != 1:
        raise ValueError(f"updates must be 1-D [K], got shape {u.shape}")
    if y.ndim == 1:
        y = y[None]
    if y.ndim != 2 or y.shape[1] != u.shape[0]:
        raise ValueError(f"losses must be [K] or [S, K] with K = {u.shape[0]} (the updates), "
                         f"got shape {np.shape(losses)}")
    if u.shape[0] < 2 or not np.all(np.diff(u) > 0):
        raise ValueError("updates must hold at least 2 strictly increasing values, got "
                         f"{u[:5].tolist()}{' …' if u.shape[0] > 5 else ''}")
    if not np.all(np.isfinite(y)) or not np.all(y > 0):
        bad = int(np.sum(~(np.isfinite(y) & (y > 0))))
        raise ValueError(f"losses must be finite and > 0 (the test reads ln L), got {bad} "
                         "non-positive or non-finite values; drop diverged runs first")
    return u, y


def plateau_test(updates, losses, *, window: float = 0.25, tol: float = 0.05,
                 z: float = 2.0, edge: float = 0.2) -> PlateauTest:
    """Whether a loss curve (or the geometric mean of several) has stopped falling.

    Args:
        updates: [K] update index of each record, strictly increasing.
        losses: [K] or [S, K] loss per record (per seed), > 0.
        window: fraction of the run (of the update range) the test reads, at its end (0.25).
        tol: largest fall of ln L over the window that still counts as flat (0.05 ≈ 5 %).
        z: standard errors by which the slope must be negative to count (2).
        edge: fraction of the window averaged at each end for criterion A (0.2).

    Returns:
        ``PlateauTest`` (rule in the module docstring).

    Raises:
        ValueError: bad shapes, non-positive losses, parameters out of range, or fewer than 8
            records in the window.
    """
    if not 0 < window <= 1 or not 0 < edge <= 0.5 or tol <= 0 or z <= 0:
        raise ValueError(f"need 0 < window ≤ 1, 0 < edge ≤ 0.5, tol > 0, z > 0; got "
                         f"window={window}, edge={edge}, tol={tol}, z={z}")
    u, y = _curves(updates, losses)
    y = np.log(y).mean(0)  # the geometric-mean curve of the seeds
    start = u[-1] - window * (u[-1] - u[0])
    inside = u >= start - 1e-9 * max(1.0, abs(start))
    uw, yw = u[inside], y[inside]
    if uw.shape[0] < 8:
        raise ValueError(f"the last {window:g} of the run holds {uw.shape[0]} records; need ≥ 8 "
                         "(record the loss more often, or widen window)")
    span = uw[-1] - uw[0]
    first = uw <= uw[0] + edge * span
    last = uw >= uw[-1] - edge * span
    drop = float(yw[first].mean() - yw[last].mean())
    x = uw - uw.mean()
    slope = float((x * (yw - yw.mean())).sum() / (x * x).sum())
    resid = yw - yw.mean() - slope * x
    se = float(math.sqrt((resid * resid).sum() / (uw.shape[0] - 2) / (x * x).sum()))
    decline = -slope * span
    a = drop < tol
    falling = slope < -z * se and decline >= tol
    if not a:
        reason = (f"ln-loss fell {drop:.3g} over the last {window:g} of the run "
                  f"(tolerance {tol:g})")
    elif falling:
        reason = (f"slope {slope:.3g} ± {se:.2g} per update: negative beyond {z:g} s.e., a "
                  f"decline of {decline:.3g} over the window (tolerance {tol:g})")
    else:
        reason = (f"flat: ln-loss drop {drop:.3g} < {tol:g} and slope {slope:.3g} ± {se:.2g} "
                  "not falling beyond the rule")
    return PlateauTest(plateaued=bool(a and not falling), drop=drop, slope=slope, slope_se=se,
                       decline=float(decline), window=(float(uw[0]), float(uw[-1])),
                       n_points=int(uw.shape[0]), reason=reason)


def _smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of ``width`` records along the last axis (shrinking at the
    ends, so the first and last values average only the records that exist)."""
    if width <= 1:
        return y
    half = width // 2
    c = np.concatenate([np.zeros(y.shape[:-1] + (1,)), np.cumsum(y, -1)], -1)
    K = y.shape[-1]
    lo = np.clip(np.arange(K) - half, 0, K)
    hi = np.clip(np.arange(K) + half + 1, 0, K)
    return (c[..., hi] - c[..., lo]) / (hi - lo)


def improvement_fraction(losses, *, scale: str = "log", smooth: int = 1) -> np.ndarray:
    """Fraction of its final improvement each record of a curve has reached.

    ``f(k) = (s(0) − s(k)) / (s(0) − s(K−1))`` with ``s`` = ln L (``scale="log"``) or L
    (``"linear"``), smoothed by a centred moving average of ``smooth`` records first. NaN for a
    curve that did not improve (s(K−1) ≥ s(0)).

    Args:
        losses: [K] or [S, K], > 0.
    Returns:
        [K] or [S, K], like ``losses``.
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    if int(smooth) != smooth or smooth < 1:
        raise ValueError(f"smooth must be a whole number of records ≥ 1, got {smooth}")
    arr = np.asarray(losses, dtype=np.float64)
    _, y = _curves(np.arange(arr.shape[-1]), arr)
    s = _smooth(np.log(y) if scale == "log" else y, int(smooth))
    total = s[:, :1] - s[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(total > 0, (s[:, :1] - s) / total, np.nan)
    return f[0] if arr.ndim == 1 else f


def updates_to_fraction(updates, losses, fraction: float = 0.9, *, scale: str = "log",
                        smooth: int = 1):
    """The update at which a curve first reaches ``fraction`` of its final improvement.

    Linear interpolation between the two records that bracket the first crossing of
    ``improvement_fraction(...) ≥ fraction``. For L(k) = L∞ + A e^{−k/τ} recorded at every
    update up to K, ``scale="linear"`` gives k* = −τ ln(1 − f (1 − e^{−K/τ})) to within
    (record spacing)²/(8τ).

    Args:
        updates: [K] strictly increasing.
        losses: [K] or [S, K], > 0.
        fraction: in (0, 1].
        scale, smooth: as ``improvement_fraction``.
    Returns:
        a float (``losses`` [K]) or [S] floats; NaN for a curve that never improved.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    u, y = _curves(updates, losses)
    f = np.atleast_2d(improvement_fraction(y, scale=scale, smooth=smooth))
    out = np.full(f.shape[0], np.nan)
    for i, fi in enumerate(f):
        if not np.isfinite(fi[-1]):
            continue
        k = int(np.argmax(fi >= fraction - 1e-12))
        if k == 0:
            out[i] = u[0]
            continue
        f0, f1 = fi[k - 1], fi[k]
        out[i] = u[k - 1] + (fraction - f0) / (f1 - f0) * (u[k] - u[k - 1])
    return float(out[0]) if np.ndim(losses) == 1 else out
