"""Summary statistics shared by every floor: the mean and its standard error.

One convention for the whole package (fits' cross-validation, every reproduction's claims):
values that are ``None`` or not finite are left out; with no value left the mean is NaN, with
one the standard error is NaN (one sample has no spread, and NaN can never pass a "beyond 2 s.e."
test by accident).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple


class MeanSE(NamedTuple):
    """Mean, standard error of the mean (sample SD / √n) and n of the values used."""

    mean: float
    se: float
    n: int

    @property
    def sd(self) -> float:
        """Sample standard deviation (ddof = 1): se · √n."""
        return self.se * math.sqrt(self.n) if self.n > 1 else float("nan")


def mean_se(values: Iterable[float | None]) -> MeanSE:
    """``MeanSE`` of the finite, non-None ``values`` (NaN mean if none; NaN s.e. if one).

    >>> mean_se([1.0, 2.0, 3.0, None, float("nan")])
    MeanSE(mean=2.0, se=0.5773502691896258, n=3)
    """
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    if not v:
        return MeanSE(float("nan"), float("nan"), 0)
    m = math.fsum(v) / len(v)
    if len(v) < 2:
        return MeanSE(m, float("nan"), 1)
    var = math.fsum((x - m) ** 2 for x in v) / (len(v) - 1)
    return MeanSE(m, math.sqrt(var / len(v)), len(v))


def finite_or_none(x: float) -> float | None:
    """``x``, or None where it is NaN/inf (for JSON tables that print "–" for a missing value)."""
    return float(x) if x is not None and math.isfinite(x) else None
