"""RFLO against a brute-force per-synapse implementation of its equations (explicit loops), and
against e-prop where their traces coincide (dt = τ); float64."""

from __future__ import annotations

import pytest
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse
from rnnrank.learning.eprop import eprop
from rnnrank.learning.rflo import rflo

TRAIN = ("W", "U", "V", "b")


def setup(*, n=4, dt=0.2, duration=1.6, batch=2, gain=1.3, noise=0.0):
    task = rr.tasks.make("flipflop", n_bits=2, duration=duration, interval=(0.4, 0.8),
                         settle=0.4, pulse_duration=0.2, dt=dt)
    model = rr.RateRNN(task.n_in, n, task.n_out, gain=gain, seed=[0, 1], dt=dt, noise=noise,
                       dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        model.b.copy_(0.3 * torch.randn(model.b.shape, generator=gen, dtype=torch.float64))
    data = task.sample(batch, generator=gen).to(dtype=torch.float64)
    B = torch.randn(2, n, task.n_out, generator=gen, dtype=torch.float64)

    def loss_fn(y):
        return masked_mse(y, data.targets, data.mask)
    return model, data, loss_fn, B, model.draw_noise(data.n_steps, batch, gen)


def brute_force(model, data, loss_fn, B):
    """P_ji[k] = κ P_ji[k−1] + α φ′(x_j[k]) z_i[k−1]; G_ji = Σ_k (B e[k−1])_j P_ji[k]."""
    p = model.params()
    E, N = p.W.shape[:2]
    a, kappa = model.alpha, 1 - model.alpha
    outputs, states = model.run(data.inputs, grad=False)
    y = outputs.detach().requires_grad_(True)
    (err,) = torch.autograd.grad(loss_fn(y).sum(), y)
    T, _, nb, n_out = err.shape
    n_in = p.U.shape[-1]
    grads = {k: torch.zeros_like(getattr(p, k)) for k in ("W", "U", "b")}
    for e in range(E):
        for b in range(nb):
            P = torch.zeros(N, N + n_in + 1, dtype=torch.float64)
            for k in range(1, T + 1):
                z = [torch.tanh(states[k - 1, e, b, i]) for i in range(N)]
                z += [data.inputs[k - 1, b, i] for i in range(n_in)] + [1.0]
                for j in range(N):
                    dphi = 1 - torch.tanh(states[k, e, b, j]) ** 2
                    L = sum(B[e, j, o] * err[k - 1, e, b, o] for o in range(n_out))
                    for i in range(len(z)):
                        P[j, i] = kappa * P[j, i] + a * dphi * z[i]
                        if i < N:
                            grads["W"][e, j, i] += L * P[j, i]
                        elif i < N + n_in:
                            grads["U"][e, j, i - N] += L * P[j, i]
                        else:
                            grads["b"][e, j] += L * P[j, i]
    return grads


@pytest.mark.parametrize("chunk", [1, 3, 50])
def test_rflo_matches_a_per_synapse_brute_force(chunk):
    model, data, loss_fn, B, _ = setup()
    truth = brute_force(model, data, loss_fn, B)
    _, est, _ = rflo(model, data.inputs, loss_fn, B, chunk=chunk)  # T = 8 steps
    for name, g in truth.items():  # float64 round-off only
        torch.testing.assert_close(est[name], g, rtol=1e-9, atol=1e-12)


def test_rflo_equals_eprop_with_the_same_feedback_when_dt_equals_tau():
    """α = 1: both traces are φ′(x_j[k]) z_i[k−1] (and they differ for α < 1)."""
    model, data, loss_fn, B, xi = setup(n=9, dt=1.0, duration=30.0, batch=4, noise=0.2)
    assert model.alpha == 1.0
    _, g_rflo, _ = rflo(model, data.inputs, loss_fn, B, noise=xi, chunk=7)
    _, g_eprop, _ = eprop(model, data.inputs, loss_fn, B, noise=xi, chunk=11)
    for name in TRAIN:  # float64 round-off only
        torch.testing.assert_close(g_rflo[name], g_eprop[name], rtol=1e-10, atol=1e-13)
    model, data, loss_fn, B, _ = setup(n=9, dt=0.2, duration=6.0)
    _, g_rflo, _ = rflo(model, data.inputs, loss_fn, B)
    _, g_eprop, _ = eprop(model, data.inputs, loss_fn, B)
    assert (g_rflo["W"] - g_eprop["W"]).abs().max() > 1e-3 * g_eprop["W"].abs().max()


def test_rflo_defaults_to_random_feedback_with_murrays_scale():
    model, data, loss_fn, _, _ = setup(n=50)
    rule = rr.learning.make_rule("rflo")
    assert rule.options()["feedback"] == "random"
    rule.init(model, torch.Generator().manual_seed(0))
    B = rule.state_dict()["feedback"]  # N(0, 1/O) with O = 2 outputs: std 1/√2
    assert 0.6 < float(B.std()) * 2 ** 0.5 < 1.4  # 200 draws: sample std within ±40 %
    grads = rule.gradients(model, data, loss_fn=loss_fn, noise=None).grads
    assert set(grads) == set(TRAIN)


@pytest.mark.parametrize("nonlinearity", ["tanh", "retanh"])
def test_rflo_learned_initial_state_is_exact_without_recurrence(nonlinearity):
    """At W = 0, x[k] depends on x0 only through its own leak κ^k: RFLO's x0 estimate
    Σ_k κ^k φ′(x[k]) (Vᵀ e[k−1])_j (symmetric feedback) is then the exact gradient (autograd,
    float64), and with a random B it is linear in B."""
    task = rr.tasks.make("flipflop", n_bits=2, duration=1.6, interval=(0.4, 0.8), settle=0.4,
                         pulse_duration=0.2, dt=0.2)
    model = rr.RateRNN(task.n_in, 5, task.n_out, gain=0.0, seed=[0, 1], dt=0.2,
                       nonlinearity=nonlinearity, trainable=("W", "x0"), dtype=torch.float64)
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        model.x0.copy_(0.7 * torch.randn(model.x0.shape, generator=gen, dtype=torch.float64))
    data = task.sample(3, generator=gen).to(dtype=torch.float64)

    def loss_fn(y):
        return masked_mse(y, data.targets, data.mask)
    outputs, _ = model.run(data.inputs)
    exact = torch.autograd.grad(loss_fn(outputs).sum(), model.x0)[0]
    V_T = model.params().V.detach().transpose(1, 2)
    _, grads, _ = rflo(model, data.inputs, loss_fn, V_T, chunk=4)
    assert float(exact.abs().max()) > 1e-3  # a gradient worth checking
    torch.testing.assert_close(grads["x0"], exact, rtol=1e-10, atol=1e-12)
    _, g2, _ = rflo(model, data.inputs, loss_fn, 2 * V_T, chunk=50)
    torch.testing.assert_close(g2["x0"], 2 * exact, rtol=1e-10, atol=1e-12)
