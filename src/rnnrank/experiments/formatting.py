"""The one way a reproduction writes a number: ``num`` for a value, ``pm`` for mean ± s.e.

A missing value (None, NaN, ±inf) prints as "–" everywhere, so a table never shows "nan" or a
bare number whose spread was lost.
"""

from __future__ import annotations

import math

MISSING = "–"


def _finite(x) -> bool:
    return x is not None and not isinstance(x, str) and math.isfinite(float(x))


def num(x, spec: str = ".3g") -> str:
    """``x`` formatted with ``spec`` ("–" when missing; a string is returned as it is)."""
    if isinstance(x, str):
        return x
    return format(float(x), spec) if _finite(x) else MISSING


def pm(mean, se, spec: str = ".3g", se_spec: str | None = None) -> str:
    """"mean ± se" ("mean ± –" when the spread is missing, "–" when the mean is; a string
    mean, e.g. "> 600", is returned as it is)."""
    if isinstance(mean, str):
        return mean
    if not _finite(mean):
        return MISSING
    return f"{num(mean, spec)} ± {num(se, se_spec or spec)}"
