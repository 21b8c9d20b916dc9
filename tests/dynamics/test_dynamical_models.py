"""One dynamics interface: every model that implements ``system()`` — RateRNN, LSTMNet and the
network a low-tensor-rank fit found — gets Lyapunov exponents and fixed points the same way."""

from __future__ import annotations

import pytest
import torch

import rnnrank as rr
from rnnrank.models.protocol import DynamicalModel


def _rate():
    return rr.RateRNN(2, 6, 1, gain=0.5, seed=0, dtype=torch.float64)


def _lstm():
    return rr.models.LSTMNet(2, 3, 1, n_layers=1, seed=0).double()


def _fitted():
    rec, _ = rr.fitting.ltr_teacher(T=8, K=6, n=5, N=6, rank=1, seed=0)
    fit = rr.fitting.fit_ltr(rec, 1, n_rec=6, options=rr.fitting.FitOptions(max_iter=5),
                             dtype=torch.float64)
    return fit.network(2)


@pytest.mark.parametrize("build", [_rate, _lstm, _fitted], ids=["rate", "lstm", "fitted"])
def test_every_dynamical_model_gets_exponents_and_fixed_points(build):
    model = build()
    assert isinstance(model, DynamicalModel)
    system = model.system()
    les = rr.dynamics.lyapunov_spectrum(model, k=2, steps=200, warmup=50, n_init=2)
    assert les.shape == (2,) and bool(torch.isfinite(les).all())
    fps = rr.dynamics.fixed_points(model, n_init=8, sample_steps=20)
    assert len(fps.points) >= 1
    residual = system.step(fps.points[None], torch.zeros(len(fps.points), system.n_in,
                                                          dtype=system.dtype)) - fps.points
    assert float(residual.abs().max()) < 1e-6  # they are fixed points of the model's own step
