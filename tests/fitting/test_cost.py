"""The flop count of a fit iteration against torch's own count of the forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from rnnrank.fitting import Recording, fit_ltr
from rnnrank.fitting import ltr_model as lm
from rnnrank.fitting.cost import flops_per_iteration


@pytest.mark.parametrize("shape,n_rec,rank", [((7, 30, 12), 16, 3), ((5, 24, 40), 8, 2)])
def test_forward_flops_are_a_third_of_the_iteration_count(shape, n_rec, rank):
    T, K, n = shape
    g = torch.Generator().manual_seed(0)
    rec = Recording(data=torch.randn(T, K, n, generator=g), condition=np.arange(K) % 3)
    fit = fit_ltr(rec, rank, n_rec=n_rec, max_iter=1)
    L = torch.linalg.cholesky(torch.eye(K) * 1.01)  # any [K, K] factor: same product count
    with FlopCounterMode(display=False) as counter:
        c, _, _ = lm.factors(fit.params, L)
        lm.predict_eta(fit.params, fit.cfg, c, rec.condition, T)
    counted = counter.get_total_flops()
    expected = flops_per_iteration(T, K, n, n_rec, rank, n_prep=fit.cfg.n_prep) / 3
    assert counted == pytest.approx(expected, rel=0.02)
