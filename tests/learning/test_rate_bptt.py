"""Hand-derived adjoint BPTT against autograd (1e-10 relative, float64) and finite differences."""

from __future__ import annotations

import itertools

import pytest
import torch

import rnnrank as rr
from rnnrank.learning import masked_mse, rate_bptt
from rnnrank.learning.rules import autograd_gradients
from rnnrank.tasks import Batch

T, B, N, I, O = 17, 4, 12, 3, 2


def _problem(nonlinearity, noise, ensemble, train_x0, independent, seed=0):
    gen = torch.Generator().manual_seed(seed)
    trainable = ("W", "U", "V", "b") + (("x0",) if train_x0 else ())
    model = rr.RateRNN(I, N, O, gain=[0.7, 1.6] if ensemble else 1.2, seed=seed,
                       nonlinearity=nonlinearity, noise=noise, trainable=trainable,
                       dtype=torch.float64)
    with torch.no_grad():
        for p in (model.b, model.x0):
            p.normal_(generator=gen).mul_(0.5)
    E = model.ensemble_size
    lead = (T, E, B) if independent else (T, B)
    inputs = torch.randn(*lead, I, generator=gen, dtype=torch.float64)
    targets = torch.randn(*lead, O, generator=gen, dtype=torch.float64)
    mask = (torch.rand(*lead, O, generator=gen) < 0.6).double()
    xi = model.draw_noise(T, B, gen)
    return model, Batch(inputs, targets, mask), xi


CASES = list(itertools.product(["tanh", "relu", "softplus", "identity", "retanh"], [0.0, 0.4],
                               [False, True], [False, True], [None, 5]))


@pytest.mark.parametrize("nonlinearity, noise, ensemble, train_x0, truncation", CASES)
def test_adjoint_equals_autograd(nonlinearity, noise, ensemble, train_x0, truncation):
    independent = ensemble and truncation is None  # exercise [T, E, B, I] inputs too
    model, batch, xi = _problem(nonlinearity, noise, ensemble, train_x0, independent)

    def loss_fn(y):
        return masked_mse(y, batch.targets, batch.mask)

    loss, grads, outputs = rate_bptt(model, batch.inputs, loss_fn, noise=xi,
                                     truncation=truncation)
    extra = {"detach_every": truncation} if truncation else {}
    ref = autograd_gradients(model, batch, loss_fn=loss_fn, noise=xi, **extra)
    torch.testing.assert_close(loss, ref.loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(outputs, ref.outputs, rtol=0, atol=1e-13)
    assert set(grads) == set(ref.grads)
    for name, g in grads.items():
        r = ref.grads[name]
        # exactness up to float64 round-off: relative error of the whole gradient < 1e-10
        assert g.shape == r.shape
        assert (g - r).norm() <= 1e-10 * r.norm(), name


def test_bptt_matches_finite_differences():
    model, batch, _ = _problem("tanh", 0.0, False, True, False, seed=3)

    def loss_fn(y):
        return masked_mse(y, batch.targets, batch.mask)

    _, grads, _ = rate_bptt(model, batch.inputs, loss_fn)
    h = 1e-6  # central differences: truncation error O(h²) ≈ 1e-12, round-off ≈ 1e-16/h = 1e-10
    gen = torch.Generator().manual_seed(0)
    for name in ("W", "U", "V", "b", "x0"):
        p = getattr(model, name)
        for _ in range(3):
            idx = tuple(int(torch.randint(s, (1,), generator=gen)) for s in p.shape)
            with torch.no_grad():
                old = p[idx].item()
                p[idx] = old + h
                up = loss_fn(model.run(batch.inputs, grad=False)[0]).item()
                p[idx] = old - h
                down = loss_fn(model.run(batch.inputs, grad=False)[0]).item()
                p[idx] = old
            fd = (up - down) / (2 * h)
            assert abs(grads[name][idx].item() - fd) <= 1e-7 * max(1.0, abs(fd)), (name, idx)


def test_only_trainable_parameters_get_gradients():
    model = rr.RateRNN(I, N, O, trainable=("W",), dtype=torch.float64)
    batch = Batch(torch.zeros(5, 2, I), torch.zeros(5, 2, O), torch.ones(5, 2, O))
    _, grads, _ = rate_bptt(model, batch.inputs.double(),
                            lambda y: masked_mse(y, batch.targets, batch.mask))
    assert list(grads) == ["W"] and grads["W"].shape == (N, N)


def test_rule_workspace_reuse_across_shapes_is_exact():
    """The BPTT rule reuses its buffers; a later call with other shapes must not see stale data."""
    from rnnrank.learning.bptt import BPTT

    rule = BPTT()
    for t_steps, batch_size in [(9, 3), (17, 4), (9, 3), (5, 6)]:
        model, batch, xi = _problem("tanh", 0.0, False, True, False, seed=t_steps)
        batch = Batch(batch.inputs[:t_steps, :batch_size], batch.targets[:t_steps, :batch_size],
                      batch.mask[:t_steps, :batch_size])

        def loss_fn(y, batch=batch):
            return masked_mse(y, batch.targets, batch.mask)

        reused = rule.gradients(model, batch, loss_fn=loss_fn, noise=None)
        _, fresh, _ = rate_bptt(model, batch.inputs, loss_fn)
        for name, g in fresh.items():
            torch.testing.assert_close(reused.grads[name], g, rtol=0, atol=0)
