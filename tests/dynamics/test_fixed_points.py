"""Fixed points: zeros of F(x) − x, the analytic fixed point of a linear network, stability."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.dynamics import fixed_points

F64 = torch.float64


def test_linear_network_has_its_analytic_fixed_point():
    """φ = identity: x* = W x* + U u + b, so x* = (I − W)⁻¹ (U u + b), stable iff |eig| < 1."""
    model = rr.RateRNN(2, 20, 1, gain=0.7, seed=0, nonlinearity="identity", dtype=F64)
    with torch.no_grad():
        model.b.copy_(torch.randn(20, generator=torch.Generator().manual_seed(1), dtype=F64))
    u = torch.tensor([0.3, -1.2], dtype=F64)
    fps = fixed_points(model, inputs=u, n_init=16, seed=0)
    W, U, b = (p.detach().numpy() for p in (model.W, model.U, model.b))
    truth = np.linalg.solve(np.eye(20) - W, U @ u.numpy() + b)
    assert len(fps) == 1 and fps.n_converged == 16  # a linear map has one fixed point
    # LM converges to q < 1e-16, i.e. ‖x − x*‖ ≲ 1e-8 · ‖(I − W)⁻¹‖ (≈ 3 here)
    np.testing.assert_allclose(fps.points[0].numpy(), truth, rtol=0, atol=1e-7)
    alpha = model.alpha
    eig = np.linalg.eigvals((1 - alpha) * np.eye(20) + alpha * W)
    np.testing.assert_allclose(np.sort(np.abs(fps.eigenvalues[0].numpy())),
                               np.sort(np.abs(eig)), rtol=0, atol=1e-10)
    assert bool(fps.stable[0]) == bool(np.abs(eig).max() < 1)


def test_points_of_a_chaotic_tanh_network_are_zeros_of_the_step():
    model = rr.RateRNN(1, 24, 1, gain=2.5, seed=3, dtype=torch.float32)
    fps = fixed_points(model, n_init=48, seed=1, max_iter=100)
    assert len(fps) >= 1 and fps.n_converged >= len(fps)
    W = model.W.detach().double().numpy()
    a = model.alpha
    for x, eig, n_unst in zip(fps.points.numpy(), fps.eigenvalues.numpy(),
                              fps.n_unstable.numpy(), strict=True):
        step = (1 - a) * x + a * (W @ np.tanh(x))  # the step written out here
        assert np.linalg.norm(step - x) < 1e-7  # tol 1e-16 on ½‖·‖² means ‖·‖ < 1.5e-8
        J = (1 - a) * np.eye(24) + a * W * (1 - np.tanh(x) ** 2)[None, :]
        truth = np.sort(np.abs(np.linalg.eigvals(J)))[::-1]
        np.testing.assert_allclose(np.abs(eig), truth, rtol=0, atol=1e-9)
        assert n_unst == int(np.sum(truth > 1))


def test_ensemble_gives_one_result_per_member_and_errors_are_clear():
    ens = rr.RateRNN(1, 12, 1, gain=[0.5, 0.8], seed=[0, 1], dtype=F64)
    out = fixed_points(ens, n_init=8)
    # g < 1 with no input and no bias: the origin is the unique, stable fixed point
    assert len(out) == 2 and all(len(f) == 1 and bool(f.stable[0]) for f in out)
    assert all(float(f.points.abs().max()) < 1e-8 for f in out)
    with pytest.raises(ValueError, match=r"constant input of shape \[1\]"):
        fixed_points(ens, inputs=torch.zeros(3))
    with pytest.raises(ValueError, match="n_init must be a positive integer"):
        fixed_points(ens, n_init=0)


def test_fixed_points_of_a_model_with_only_a_step_function():
    """LSTMNet (autograd Jacobian): every point returned satisfies step(x) = x."""
    from rnnrank.models.lstm import LSTMNet

    net = LSTMNet(2, 4, 1, n_layers=1, seed=0, dtype=F64)
    u = torch.tensor([0.5, -0.5], dtype=F64)
    fps = fixed_points(net, inputs=u, n_init=4, max_iter=30)
    assert len(fps) >= 1
    with torch.no_grad():
        moved = net.step(fps.points[None], u.expand(len(fps), -1))[0] - fps.points
    assert float(moved.norm(dim=-1).max()) < 1.5e-8  # q < 1e-16 ⇔ ‖step(x) − x‖ < 1.4e-8
