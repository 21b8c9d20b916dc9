"""The Liu lab's conventions as options of ``RateRNN`` (issue 23, REFERENCES §3): the gain
convention W0 = 1.5·ini_gain·N(0,1)/√N, retanh units, N(0, 1/I) inputs, a learned x0."""

from __future__ import annotations

import math

import pytest
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse
from rnnrank.models import gain_of_ini_gain, ini_gain_of_gain
from rnnrank.nonlinearities import get_nonlinearity

F64 = torch.float64


@pytest.mark.parametrize("ini_gain", [0.5, 1.0, 2.0])
def test_ini_gain_round_trips_to_the_labs_weight_scale(ini_gain):
    """ini_gain 1 → std(W)·√N = 1.5. N = 400: 160 000 entries, the sample std has relative
    s.e. 1/√(2·160 000) ≈ 0.18 %; 1 % is > 5 s.e."""
    g = gain_of_ini_gain(ini_gain)
    assert g == pytest.approx(1.5 * ini_gain) and ini_gain_of_gain(g) == pytest.approx(ini_gain)
    model = rr.RateRNN(3, 400, 2, gain=g, seed=1, dtype=F64)
    assert float(model.W.detach().std()) * math.sqrt(400) == pytest.approx(1.5 * ini_gain, rel=0.01)
    with pytest.raises(ValueError, match="ini_gain"):
        gain_of_ini_gain(-1.0)


def test_retanh_is_the_rectified_tanh_and_its_derivative_is_autograds():
    phi = get_nonlinearity("retanh")
    x = torch.linspace(-3, 3, 601, dtype=F64)[torch.arange(601) != 300]  # not at the kink 0
    r = phi.f(x)
    torch.testing.assert_close(r, torch.where(x > 0, torch.tanh(x), torch.zeros_like(x)))
    xg = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(torch.tanh(xg).clamp(min=0).sum(), xg)
    torch.testing.assert_close(phi.df(x, r), auto, rtol=0, atol=1e-15)
    out = torch.empty_like(x)
    torch.testing.assert_close(phi.derivative_into(x.clone(), r, out), auto, rtol=0, atol=1e-15)


def test_fan_in_inputs_have_variance_one_over_the_input_count():
    model = rr.RateRNN(4, 2000, 3, io_scale="fan_in", seed=0, dtype=F64)
    # 8000 draws of N(0, 1/4): sample std within 3 % (> 4 s.e.)
    assert float(model.U.detach().std()) == pytest.approx(0.5, rel=0.03)
    bound = 1 / math.sqrt(2000)  # readout as nn.Linear: uniform in ±1/√N
    assert float(model.V.detach().abs().max()) <= bound


@pytest.mark.parametrize("rule", ["bptt", "eprop"])
def test_learned_initial_state_gradient_matches_finite_differences(rule):
    """A retanh network with trainable x0 (the lab's LEARN_ah0): the rule's x0 gradient
    (BPTT: exact; e-prop at W = 0: exact) against central finite differences in float64."""
    task = rr.tasks.make("mante", stimulus=1.0, delay=0.5, decision=1.0, fixation=0.3, dt=0.1)
    gain = 1.5 if rule == "bptt" else 0.0
    model = rr.RateRNN(task.n_in, 6, task.n_out, gain=gain, seed=2, dt=0.1,
                       nonlinearity="retanh", io_scale="fan_in", dtype=F64,
                       trainable=("W", "U", "V", "b", "x0"))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        model.x0.copy_(torch.rand(6, generator=gen, dtype=F64) + 0.2)  # away from the kink
    batch = task.sample(4, generator=gen).to(dtype=F64)

    def loss_fn(y):
        return masked_mse(y, batch.targets, batch.mask)
    g = rr.learning.estimate_gradients(model, batch, rule=rule).grads["x0"]
    h = 1e-6
    fd = torch.zeros(6, dtype=F64)
    for j in range(6):
        vals = []
        for sign in (1, -1):
            with torch.no_grad():
                model.x0[j] += sign * h
                vals.append(float(loss_fn(model.run(batch.inputs, grad=False)[0])))
                model.x0[j] -= sign * h
        fd[j] = (vals[0] - vals[1]) / (2 * h)
    assert float(fd.abs().max()) > 1e-4
    torch.testing.assert_close(g.reshape(6), fd, rtol=1e-5, atol=1e-9)
