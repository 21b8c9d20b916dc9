"""Sine task: targets, cue levels, the autonomous variant and the normalised error."""

import math

import pytest
import torch

import rnnrank.tasks as tasks


def test_targets_follow_the_formula():
    for waveform, terms in (("sine", [(1, 1.0)]), ("murray", [(1, 1.0), (2, 0.5), (4, 0.25)])):
        task = tasks.make("sine", waveform=waveform, amplitude=0.8)
        batch = task.sample(16, generator=torch.Generator().manual_seed(0))
        t = torch.arange(batch.n_steps, dtype=torch.float64)[:, None] * task.dt
        omega = 2 * math.pi * torch.tensor(task.frequencies, dtype=torch.float64)[
            batch.info["condition"]]
        expected = 0.8 * sum(w * torch.sin(h * omega * t) for h, w in terms)
        assert torch.allclose(batch.targets[..., 0].double(), expected, atol=1e-6)


def test_cue_level_and_settle_mask():
    task = tasks.make("sine")
    batch = task.sample(32, generator=torch.Generator().manual_seed(1))
    assert batch.n_steps == 250  # duration 50 at dt 0.2
    level = (batch.info["condition"].float() + 1) / 4
    assert torch.equal(batch.inputs[..., 0], level.expand(250, -1))
    assert bool((batch.mask[:25] == 0).all()) and bool((batch.mask[25:] == 1).all())


def test_autonomous_variant_has_no_inputs():
    task = tasks.make("sine", cue=False, frequencies=(0.1,))
    batch = task.sample(4, generator=torch.Generator().manual_seed(0))
    assert task.n_in == 0 and batch.inputs.shape == (250, 4, 0)
    with pytest.raises(ValueError, match="exactly one frequency"):
        tasks.make("sine", cue=False)


def test_normalised_error_of_the_target_mean_is_one():
    task = tasks.make("sine")
    batch = task.sample(8, generator=torch.Generator().manual_seed(2))
    centre = (batch.targets * batch.mask).sum() / batch.mask.sum()
    out = torch.full_like(batch.targets, centre.item())
    assert task.score(out, batch).item() == pytest.approx(1.0, rel=1e-4)  # float32 sums
    assert task.score(batch.targets, batch).item() == 0.0
