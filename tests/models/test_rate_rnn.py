"""RateRNN against an independent NumPy re-implementation of DESIGN.md §4, and its invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.models import rate_dynamics as rd

NUMPY_PHI = {
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "softplus": lambda x: np.log1p(np.exp(x)),
    "identity": lambda x: x,
}


def numpy_unroll(W, U, V, b, x0, inputs, xi, alpha, sigma, phi):
    """x[t+1] = (1−α)x + α(W φ(x) + U u + b) + σ√α ξ;  y[t] = V φ(x[t+1]) — one trial at a time."""
    T, B, _ = inputs.shape
    ys = np.zeros((T, B, V.shape[0]))
    for trial in range(B):
        x = x0.copy()
        for t in range(T):
            x = (1 - alpha) * x + alpha * (W @ phi(x) + U @ inputs[t, trial] + b) \
                + sigma * math.sqrt(alpha) * xi[t, trial]
            ys[t, trial] = V @ phi(x)
    return ys


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "softplus", "identity"])
@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_outputs_match_numpy_reimplementation(nonlinearity, noise, gen):
    model = rr.RateRNN(3, 20, 2, gain=1.3, seed=4, nonlinearity=nonlinearity, dt=0.1, tau=0.5,
                       noise=noise, dtype=torch.float64)
    with torch.no_grad():  # non-zero bias and x0 so that every term of the equation is exercised
        model.b.normal_(generator=gen)
        model.x0.normal_(generator=gen)
    inputs = torch.randn(15, 4, 3, generator=gen, dtype=torch.float64)
    xi = torch.randn(15, 1, 4, 20, generator=gen, dtype=torch.float64)
    out_fast, _ = model.run(inputs, noise=xi, grad=False)
    out_graph, _ = model.run(inputs, noise=xi, grad=True)
    P = {k: v.detach().numpy() for k, v in model.recorded_parameters().items()}
    expected = numpy_unroll(P["W"], P["U"], P["V"], P["b"], P["x0"], inputs.numpy(),
                            xi[:, 0].numpy(), 0.2, noise, NUMPY_PHI[nonlinearity])
    # float64 round-off over 15 steps of 20 units: 1e-12 is ~10⁴ ulps of headroom
    np.testing.assert_allclose(out_fast[:, 0].numpy(), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out_graph[:, 0].detach().numpy(), expected, rtol=0, atol=1e-12)


def test_step_is_the_unit_of_unroll(gen):
    model = rr.RateRNN(2, 10, 1, gain=[0.5, 1.5], seed=1, dtype=torch.float64)
    params = model.params()
    inputs = torch.randn(8, 3, 2, generator=gen, dtype=torch.float64)
    x = rd.initial_state(params, 3)
    for t in range(8):
        x = rd.step(params, x, inputs[t], alpha=model.alpha, phi=model.phi)
    _, states = model.run(inputs, grad=False)
    torch.testing.assert_close(states[-1], x, rtol=0, atol=1e-13)


def test_ensemble_members_equal_single_networks(gen):
    gains, seeds = [0.0, 0.9, 1.7], [3, 4, 5]
    ens = rr.RateRNN(2, 16, 2, gain=gains, seed=seeds, dtype=torch.float64)
    inputs = torch.randn(12, 5, 2, generator=gen, dtype=torch.float64)
    out_ens = ens(inputs)
    assert ens.W.shape == (3, 16, 16) and out_ens.shape == (12, 3, 5, 2)
    for e, (g, s) in enumerate(zip(gains, seeds, strict=True)):
        single = rr.RateRNN(2, 16, 2, gain=g, seed=s, dtype=torch.float64)
        assert single.W.shape == (16, 16)
        torch.testing.assert_close(ens.W[e], single.W, rtol=0, atol=0)
        torch.testing.assert_close(out_ens[:, e], single(inputs), rtol=0, atol=1e-13)


@pytest.mark.parametrize("n_in, per_member", [(2, False), (2, True), (0, False)])
def test_member_first_buffers_give_the_time_first_numbers(n_in, per_member, gen):
    """The hot paths' member-first buffers take the per-member drive; a time-first buffer the
    [T, E, B, N] product. Both against the step-by-step reference ``step``."""
    model = rr.RateRNN(n_in, 9, 2, gain=[0.4, 1.1, 1.9], seed=2, dtype=torch.float64)
    with torch.no_grad():
        model.b.normal_(generator=gen)
    params, E, T, B = model.params(), 3, 7, 4
    inputs = torch.randn(T, *((E,) if per_member else ()), B, n_in, generator=gen,
                         dtype=torch.float64)
    member_first = [torch.empty(E, T + 1, B, 9, dtype=torch.float64).permute(1, 0, 2, 3)
                    for _ in range(2)]
    assert rd.member_blocks(member_first[0]) is not None
    assert rd.member_blocks(torch.empty(T + 1, E, B, 9)) is None
    fast, _ = rd.unroll_states(params, inputs, alpha=model.alpha, phi=model.phi,
                               out=tuple(member_first))
    plain, _ = rd.unroll_states(params, inputs, alpha=model.alpha, phi=model.phi)
    x = rd.initial_state(params, B)
    for t in range(T):
        x = rd.step(params, x, inputs[t], alpha=model.alpha, phi=model.phi)
    torch.testing.assert_close(fast[-1], x, rtol=0, atol=1e-13)
    torch.testing.assert_close(plain[-1], x, rtol=0, atol=1e-13)


def test_initial_connectivity_statistics():
    n = 400
    w = rr.RateRNN(1, n, 1, gain=1.5, seed=0, dtype=torch.float64).W.detach()
    # entries N(0, g²/N): the sample std of 160 000 entries is within 1% of g/√N (≈ 0.4% s.e.)
    assert abs(w.std().item() * math.sqrt(n) / 1.5 - 1) < 0.01
    assert rr.RateRNN(1, n, 1, gain=0.0).W.abs().max().item() == 0.0
    q = rr.RateRNN(1, 50, 1, gain=0.8, init="orthogonal", dtype=torch.float64).W.detach()
    torch.testing.assert_close(torch.linalg.eigvals(q).abs(), torch.full((50,), 0.8,
                               dtype=torch.float64), rtol=0, atol=1e-12)
    m = rr.RateRNN(2, n, 3, gain=1.0, dtype=torch.float64)
    # field convention: ‖input columns‖ = √N, ‖readout rows‖ = 1/√N (exact by construction)
    torch.testing.assert_close(m.U.norm(dim=0), torch.full((2,), math.sqrt(n),
                               dtype=torch.float64))
    torch.testing.assert_close(m.V.norm(dim=1), torch.full((3,), 1 / math.sqrt(n),
                               dtype=torch.float64))


def test_trainable_flags_and_alpha():
    m = rr.RateRNN(2, 8, 1, dt=0.5, tau=2.0, trainable=("W", "x0"))
    assert m.alpha == 0.25
    assert [n for n, p in m.named_parameters() if p.requires_grad] == ["W", "x0"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_rec=0), "n_rec must be a positive integer"),
    (dict(gain=-1.0), "gain must be >= 0"),
    (dict(nonlinearity="sigmoidish"), "unknown nonlinearity"),
    (dict(init="uniform"), "init must be one of"),
    (dict(dt=2.0, tau=1.0), "need 0 < dt <= tau"),
    (dict(gain=[1.0, 2.0], seed=[1, 2, 3]), "same length"),
    (dict(trainable=("W", "Q")), "unknown"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    args = dict(n_in=2, n_rec=8, n_out=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        rr.RateRNN(args.pop("n_in"), args.pop("n_rec"), args.pop("n_out"), **args)
