"""e-prop against its independent truths (float64): BPTT where no recurrent path exists (W = 0),
autograd with the recurrent presynaptic rate detached (the reference codes' own check), and a
brute-force per-synapse implementation of the traces written here with explicit loops."""

from __future__ import annotations

import pytest
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse
from rnnrank.learning.eprop import eprop
from rnnrank.learning.rate_bptt import rate_bptt
from rnnrank.models import rate_dynamics as rd

ALL = ("W", "U", "V", "b", "x0")


def setup(gain, *, n=7, dt=0.2, noise=0.0, duration=4.0, batch=3, seed=0):
    task = rr.tasks.make("flipflop", n_bits=2, duration=duration, interval=(1.0, 2.0),
                         settle=0.4, pulse_duration=0.2, dt=dt)
    model = rr.RateRNN(task.n_in, n, task.n_out, gain=gain, seed=[seed, seed + 1], dt=dt,
                       noise=noise, trainable=ALL, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed + 5)
    with torch.no_grad():  # non-zero bias and initial state exercise their traces
        model.b.copy_(0.3 * torch.randn(model.b.shape, generator=gen, dtype=torch.float64))
        model.x0.copy_(0.5 * torch.randn(model.x0.shape, generator=gen, dtype=torch.float64))
    data = task.sample(batch, generator=gen).to(dtype=torch.float64)
    xi = model.draw_noise(data.n_steps, batch, gen)

    def loss_fn(y):
        return masked_mse(y, data.targets, data.mask)
    return model, data, xi, loss_fn


def symmetric(model):
    return model.params().V.detach().transpose(1, 2)


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_symmetric_eprop_is_bptt_at_zero_recurrence(noise):
    """W = 0: no recurrent path to drop, e-prop with B = Vᵀ is the exact gradient."""
    model, data, xi, loss_fn = setup(0.0, noise=noise)
    loss_b, exact, out_b = rate_bptt(model, data.inputs, loss_fn, noise=xi)
    loss_e, est, out_e = eprop(model, data.inputs, loss_fn, symmetric(model), noise=xi, chunk=4)
    torch.testing.assert_close(loss_e, loss_b, rtol=0, atol=1e-12)
    torch.testing.assert_close(out_e, out_b, rtol=0, atol=1e-12)
    for name in ALL:  # float64 round-off of sums over ≤ 20 steps: 1e-8 is the bar
        torch.testing.assert_close(est[name], exact[name], rtol=0, atol=1e-8)


def test_eprop_is_autograd_with_the_recurrent_presynaptic_rate_detached():
    """The reference codes' check: x[t+1] = κx + α(W r.detach() + Uu + b), autograd, B = Vᵀ."""
    model, data, xi, loss_fn = setup(1.5, noise=0.2)
    p = model.params()
    a, kappa = model.alpha, 1 - model.alpha
    x = p.x0[:, None, :].expand(-1, data.batch_size, -1)
    outs = []
    for t in range(data.n_steps):
        r = model.phi.f(x).detach()
        x = (kappa * x + a * (torch.bmm(r, p.W.transpose(1, 2))
                              + torch.einsum("bi,eni->ebn", data.inputs[t], p.U) + p.b[:, None])
             + model.config.noise * a ** 0.5 * xi[t])
        outs.append(rd.readout(p, model.phi.f(x)[None])[0])
    loss = loss_fn(torch.stack(outs))
    names = ALL
    truth = torch.autograd.grad(loss.sum(), [getattr(model, n) for n in names])
    _, est, _ = eprop(model, data.inputs, loss_fn, symmetric(model), noise=xi, chunk=3)
    for name, g in zip(names, truth, strict=True):  # float64 round-off only
        torch.testing.assert_close(est[name], g, rtol=1e-9, atol=1e-12)
    # and with recurrence it is not the exact gradient (the test can fail)
    _, exact, _ = rate_bptt(model, data.inputs, loss_fn, noise=xi)
    assert (est["W"] - exact["W"]).abs().max() > 1e-3 * exact["W"].abs().max()


def brute_force(model, data, loss_fn, B):
    """The equations of the eprop module docstring, one synapse at a time, explicit loops."""
    p = model.params()
    E, N = p.W.shape[:2]
    a, kappa = model.alpha, 1 - model.alpha
    outputs, states = model.run(data.inputs, grad=False)
    y = outputs.detach().requires_grad_(True)
    (err,) = torch.autograd.grad(loss_fn(y).sum(), y)  # e[t] = ∂L/∂y[t]
    T, _, nb, _ = err.shape
    n_in = p.U.shape[-1]
    gW, gU, gb = torch.zeros_like(p.W), torch.zeros_like(p.U), torch.zeros_like(p.b)
    gx0 = torch.zeros_like(p.x0)
    for e in range(E):
        for b in range(nb):
            epsW = torch.zeros(N, N, dtype=torch.float64)
            epsU = torch.zeros(N, n_in, dtype=torch.float64)
            epsb = torch.zeros(N, dtype=torch.float64)
            for k in range(1, T + 1):
                xk, xprev = states[k, e, b], states[k - 1, e, b]
                u = data.inputs[k - 1, b]
                for j in range(N):
                    dphi = 1 - torch.tanh(xk[j]) ** 2
                    L = sum(B[e, j, o] * err[k - 1, e, b, o] for o in range(err.shape[-1]))
                    for i in range(N):
                        epsW[j, i] = kappa * epsW[j, i] + a * torch.tanh(xprev[i])
                        gW[e, j, i] += L * dphi * epsW[j, i]
                    for i in range(n_in):
                        epsU[j, i] = kappa * epsU[j, i] + a * u[i]
                        gU[e, j, i] += L * dphi * epsU[j, i]
                    epsb[j] = kappa * epsb[j] + a
                    gb[e, j] += L * dphi * epsb[j]
                    gx0[e, j] += L * dphi * kappa ** k
    return {"W": gW, "U": gU, "b": gb, "x0": gx0}


def test_eprop_with_random_feedback_matches_a_per_synapse_brute_force():
    model, data, _, loss_fn = setup(1.2, n=4, duration=1.6, batch=2)
    B = torch.randn(2, 4, model.config.n_out, generator=torch.Generator().manual_seed(9),
                    dtype=torch.float64)
    truth = brute_force(model, data, loss_fn, B)
    _, est, _ = eprop(model, data.inputs, loss_fn, B, chunk=3)  # chunks of 3 over T = 8
    for name, g in truth.items():  # float64 round-off only
        torch.testing.assert_close(est[name], g, rtol=1e-9, atol=1e-12)


def test_random_feedback_is_drawn_from_the_generator_and_kept_in_the_state():
    model, data, _, loss_fn = setup(1.0)
    rule = rr.learning.make_rule("eprop", feedback="random")
    rule.init(model, torch.Generator().manual_seed(3))
    B = rule.state_dict()["feedback"]
    assert B.shape == (2, model.n_rec, model.config.n_out)
    # N(0, 1/N) entries: the sample std of 2·7·2 = 28 draws lies within a factor 2 of 1/√7
    assert 0.5 / 7 ** 0.5 < float(B.std()) < 2.0 / 7 ** 0.5
    other = rr.learning.make_rule("eprop", feedback="random")
    other.load_state_dict(rule.state_dict())
    a = rule.gradients(model, data, loss_fn=loss_fn, noise=None).grads
    b = other.gradients(model, data, loss_fn=loss_fn, noise=None).grads
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="feedback must be one of"):
        rr.learning.make_rule("eprop", feedback="transpose")
    with pytest.raises(ValueError, match="call rule.init"):
        rr.learning.make_rule("eprop", feedback="random").gradients(
            model, data, loss_fn=loss_fn, noise=None)


def test_online_rules_refuse_models_they_were_not_derived_for():
    task = rr.tasks.make("flipflop", n_bits=2)
    lstm = rr.models.LSTMNet(task.n_in, 8, task.n_out)
    for rule in ("eprop", "rflo", "fa"):
        with pytest.raises(ValueError, match="needs a RateRNN"):
            rr.learning.make_rule(rule).init(lstm, torch.Generator())
