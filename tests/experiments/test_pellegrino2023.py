"""Pieces of the Pellegrino et al. (2023) reproduction against independent truths."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from rnnrank.experiments import pellegrino2023 as P
from rnnrank.fitting import record_network
from rnnrank.learning import masked_mse
from rnnrank.models import RateRNN
from rnnrank.tasks import make


def test_principal_angles_of_known_subspaces():
    th = 0.3
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    Y = np.array([[1.0, 0.0], [0.0, math.cos(th)], [0.0, math.sin(th)]])
    # planes sharing e1, the second direction tilted by θ: angles 0 and θ
    np.testing.assert_allclose(P.principal_angles(X, Y), [0.0, math.degrees(th)], atol=1e-6)


def test_r2_linear_map_is_one_for_an_affine_relation():
    g = np.random.default_rng(0)
    c = g.standard_normal((30, 2))
    true = c @ np.array([[2.0, -1.0], [0.5, 3.0]]) + 4.0
    np.testing.assert_allclose(P.r2_linear_map(c, true), 1.0, atol=1e-12)


def test_trial_by_trial_learning_records_the_weights_of_each_trial(tmp_path):
    """W[k+1] = W[k] − lr ∇_W loss(trial k), the gradient recomputed here independently."""
    setup = dataclasses.replace(P.quick(), n_rec=16, trials=(2, 2, 2), sgd_lr=0.05)
    task = make("reach")
    model = RateRNN(n_in=3, n_rec=16, n_out=2, seed=0)
    start = model.W.detach().clone()
    arrays = P.learn_trial_by_trial(model, task, setup, tmp_path / "l.npz")
    assert arrays["W"].shape == (6, 16, 16) and arrays["rates"].shape[1:] == (6, 16)
    np.testing.assert_array_equal(arrays["W"][0], start.numpy())
    base = P.one_per_target(task)
    assert base.info["condition"].tolist() == list(range(8))
    # the target of trial j is at angle 2πj/8 (independent of the sampler)
    th = 2 * math.pi * torch.arange(8) / 8
    torch.testing.assert_close(base.targets[-1], torch.stack([th.cos(), th.sin()], 1).float())
    # rebuild trial 3 (first curl trial) with a fresh network at W[3]
    k = 2
    net = RateRNN(n_in=3, n_rec=16, n_out=2, seed=0)
    with torch.no_grad():
        net.W.copy_(torch.as_tensor(arrays["W"][k]))
    i = int(arrays["condition"][k])
    field = task.with_perturbation(curl=setup.curl)
    out, states = net.run(base.inputs[:, i:i + 1])
    loss = masked_mse(field.effector(out), base.targets[:, i:i + 1], base.mask[:, i:i + 1])
    (g,) = torch.autograd.grad(loss.sum(), net.W)
    # float32 gradients of the same graph: equal to round-off
    np.testing.assert_allclose(arrays["W"][k + 1], (net.W - 0.05 * g).detach().numpy(),
                               atol=1e-6)
    np.testing.assert_allclose(arrays["rates"][:, k], torch.tanh(states[1:, 0, 0]).detach(),
                               atol=1e-6)


def test_record_network_matches_the_model_run():
    model = RateRNN(n_in=3, n_rec=10, n_out=2, seed=1)
    task = make("reach")
    batch = task.sample(4, generator=torch.Generator().manual_seed(0))
    W = model.W.detach()[None].repeat(4, 1, 1)
    W[2] += 0.1  # trial 2 with other weights
    rec = record_network(W, batch.inputs, U=model.U.detach(), alpha=model.alpha,
                         units=torch.tensor([0, 3, 5]))
    _, states = model.run(batch.inputs, grad=False)
    ref = torch.tanh(states[1:, 0])[:, :, [0, 3, 5]]
    keep = [0, 1, 3]
    torch.testing.assert_close(rec.data[:, keep], ref[:, keep])
    assert not torch.allclose(rec.data[:, 2], ref[:, 2])


@pytest.mark.slow
def test_quick_reproduction_end_to_end(tmp_path):
    res = P.reproduce(tmp_path, quick_run=True)
    assert (tmp_path / "index.md").exists() and res["cv"]["best_rank"] >= 1
