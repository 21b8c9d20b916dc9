"""Feedback alignment: BPTT with the output error sent back through a fixed random B, checked
against autograd on a surrogate readout whose backward uses B, and against BPTT when B = Vᵀ."""

from __future__ import annotations

import pytest
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse
from rnnrank.models import rate_dynamics as rd


def setup():
    task = rr.tasks.make("mante", dt=0.5)
    model = rr.RateRNN(task.n_in, 10, task.n_out, gain=1.5, seed=[0, 1], dt=0.5,
                       dtype=torch.float64)
    data = task.sample(3, generator=torch.Generator().manual_seed(2)).to(dtype=torch.float64)

    def loss_fn(y):
        return masked_mse(y, data.targets, data.mask)
    return model, data, loss_fn


@pytest.mark.parametrize("truncation", [None, 4])
def test_fa_is_autograd_through_a_readout_whose_backward_uses_B(truncation):
    model, data, loss_fn = setup()
    rule = rr.learning.make_rule("fa", truncation=truncation)
    rule.init(model, torch.Generator().manual_seed(0))
    B = rule.state_dict()["feedback"]  # [E, N, O]
    bound = 1 / model.n_rec ** 0.5  # U(±1/√N)
    assert float(B.abs().max()) <= bound and float(B.abs().max()) > 0.5 * bound
    p = model.params()
    states = rd.unroll(p, data.inputs, alpha=model.alpha, phi=model.phi,
                       detach_every=truncation)
    r = model.phi.f(states[1:])
    # value V r; gradient to r through B (not Vᵀ), to V through r — the FA surrogate
    y = (rd.readout(p, r.detach()) + torch.einsum("tebn,eno->tebo", r, B)
         - torch.einsum("tebn,eno->tebo", r, B).detach())
    names = ("W", "U", "V", "b")
    truth = torch.autograd.grad(loss_fn(y).sum(), [getattr(model, n) for n in names])
    est = rule.gradients(model, data, loss_fn=loss_fn, noise=None).grads
    for name, g in zip(names, truth, strict=True):  # float64 round-off only
        torch.testing.assert_close(est[name], g, rtol=1e-9, atol=1e-12)


def test_fa_with_the_readout_transposed_is_bptt():
    model, data, loss_fn = setup()
    rule = rr.learning.make_rule("fa")
    rule.load_state_dict({"feedback": model.V.detach().transpose(1, 2).clone()})
    est = rule.gradients(model, data, loss_fn=loss_fn, noise=None).grads
    exact = rr.learning.estimate_gradients(model, data, rule="bptt").grads
    for name in exact:  # the same sums in the same order
        torch.testing.assert_close(est[name], exact[name], rtol=0, atol=1e-13)
