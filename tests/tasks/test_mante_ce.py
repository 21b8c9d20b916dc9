"""Mante's 3-class cross-entropy option (the Liu lab's convention, REFERENCES §3)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rnnrank as rr
import rnnrank.tasks as tasks


def sample(batch_size=16, seed=0, **options):
    task = tasks.make("mante", objective="ce", **options)
    return task, task.sample(batch_size, generator=torch.Generator().manual_seed(seed))


def test_targets_are_one_hot_choices_in_the_decision_window():
    task, batch = sample(batch_size=64)
    assert task.n_out == 3 and batch.targets.shape == batch.mask.shape == (240, 64, 3)
    coh, ctx = batch.info["coherence"], batch.info["context"]
    cued = coh[torch.arange(64), ctx]
    want = torch.where(cued > 0, 2, 1)  # 1 = left, 2 = right
    assert torch.equal(batch.targets[140:].argmax(-1), want.expand(100, 64))
    assert torch.equal(batch.targets[140:].sum(-1), torch.ones(100, 64))
    assert bool((batch.targets[:140] == 0).all()) and bool((batch.mask[:140] == 0).all())
    assert bool((batch.mask[140:] == 1).all())
    _, fix = sample(fixate=True)
    assert bool((fix.targets[:115, :, 0] == 1).all()) and bool((fix.mask[:115] == 1).all())
    assert tasks.make("mante").n_out == 1  # the default is unchanged
    with pytest.raises(ValueError, match="objective must be one of"):
        tasks.make("mante", objective="nll")


def test_loss_equals_a_hand_computed_cross_entropy_in_float64():
    """Planted logits [T, E=2, B, 3]: the loss is the mean over masked (t, b) of
    −log(e^{y_c} / Σ_k e^{y_k}), computed here entry by entry (float64: 1e-12)."""
    task, batch = sample(batch_size=5, seed=3, fixate=True)
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(batch.n_steps, 2, 5, 3, generator=gen, dtype=torch.float64) * 2
    loss = task.loss(logits, batch)
    assert loss.shape == (2,) and loss.dtype == torch.float64
    y, t, m = logits.numpy(), batch.targets.double().numpy(), batch.mask.double().numpy()
    for e in range(2):
        terms = [-math.log(math.exp(y[s, e, b, int(t[s, b].argmax())])
                           / sum(math.exp(v) for v in y[s, e, b]))
                 for s in range(batch.n_steps) for b in range(5) if m[s, b, 0] == 1]
        assert float(loss[e]) == pytest.approx(float(np.mean(terms)), rel=1e-12, abs=0)
    # the same as torch's cross_entropy over the masked steps (the lab's call)
    keep = batch.mask[..., 0].bool()
    ref = torch.nn.functional.cross_entropy(logits[:, 1][keep], batch.targets[keep].argmax(-1))
    torch.testing.assert_close(loss[1], ref, rtol=1e-12, atol=0)


def test_score_reads_the_mean_logits_over_the_decision_window():
    task, batch = sample(batch_size=8)
    ideal = task.ideal_outputs(batch)
    assert task.score(ideal, batch).item() == 1.0
    assert float(task.loss(ideal[:, None], batch)) < 1e-7  # 2e^{-20} per step
    assert task.score(-ideal, batch).item() == 0.0  # −logits pick fixate or the other side
    stacked = torch.stack([ideal, -ideal], 1)
    assert task.score(stacked, batch).tolist() == [1.0, 0.0]


def test_eprop_trains_on_the_cross_entropy():
    """The online rules take e = ∂loss/∂y by autograd: e-prop runs on the CE objective and logs
    the task's loss."""
    torch.set_num_threads(1)
    task = tasks.make("mante", objective="ce", fixation=0.2, stimulus=1.0, delay=0.2,
                      decision=1.0, dt=0.2)
    model = rr.RateRNN(task.n_in, 8, task.n_out, gain=1.0, seed=0, dt=0.2, tau=1.0)
    run = rr.train(model, task, rule="eprop", steps=3, lr=1e-2, batch_size=4,
                   record_every=1)
    assert run.status == "completed" and model.V.shape[-2] == 3
    assert np.all(np.isfinite(run.trajectory.loss))
    assert float(run.trajectory.loss[0]) == pytest.approx(math.log(3), rel=0.5)
