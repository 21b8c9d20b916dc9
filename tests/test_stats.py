"""``rnnrank.stats.mean_se``: the one mean ± standard error of the package, against numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnrank.stats import MeanSE, mean_se


@pytest.mark.parametrize("n", [2, 3, 10, 101])
def test_mean_se_is_numpys_mean_and_sample_sd_over_root_n(n):
    x = np.random.default_rng(n).standard_normal(n) * 3 + 1
    m = mean_se(x.tolist())
    assert m.n == n
    assert m.mean == pytest.approx(x.mean(), rel=1e-12)
    assert m.se == pytest.approx(x.std(ddof=1) / math.sqrt(n), rel=1e-12)
    assert m.sd == pytest.approx(x.std(ddof=1), rel=1e-12)


def test_missing_values_are_left_out_and_too_few_give_nan():
    assert mean_se([1.0, None, float("nan"), 3.0, float("inf")])[:1] == (2.0,)
    assert mean_se([1.0, None, float("nan"), 3.0]).n == 2
    one = mean_se([4.0])
    assert one.mean == 4.0 and math.isnan(one.se) and one.n == 1 and math.isnan(one.sd)
    none = mean_se([])
    assert math.isnan(none.mean) and math.isnan(none.se) and none.n == 0
    assert isinstance(none, MeanSE)


def test_the_package_has_one_mean_se():
    from pathlib import Path

    import rnnrank

    src = Path(rnnrank.__file__).parent
    defs = [p for p in src.rglob("*.py") if "def mean_se(" in p.read_text()]
    assert [p.name for p in defs] == ["stats.py"], defs
