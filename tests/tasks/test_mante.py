"""Mante task: timings and statistics of Schuessler et al. (2020), REFERENCES.md §1."""

import math

import pytest
import torch

import rnnrank.tasks as tasks


def sample(batch_size=64, seed=0, **options):
    task = tasks.make("mante", **options)
    return task, task.sample(batch_size, generator=torch.Generator().manual_seed(seed))


def test_timings_at_default_dt():
    task, batch = sample()
    # fixation 3, stimulus 20, delay 5, decision 20 at dt = 0.2 → steps 15 | 100 | 25 | 100
    assert batch.n_steps == 240
    assert bool((batch.mask[140:] == 1).all()) and bool((batch.mask[:140] == 0).all())
    ctx = batch.inputs[..., :2]
    assert bool((ctx[:15] == 0).all()) and bool((ctx[115:] == 0).all())
    assert torch.equal(ctx[15:115].sum(-1), torch.ones(100, 64))
    assert torch.equal(ctx[50].argmax(-1), batch.info["context"])


def test_fixate_masks_zero_target_until_stimulus_end():
    _, batch = sample(fixate=True)
    assert bool((batch.mask[:115] == 1).all()) and bool((batch.targets[:115] == 0).all())
    assert bool((batch.mask[115:140] == 0).all())


def test_target_is_sign_of_cued_coherence():
    _, batch = sample(batch_size=256)
    coh, ctx = batch.info["coherence"], batch.info["context"]
    cued = coh[torch.arange(256), ctx]
    assert torch.equal(batch.targets[-1, :, 0], 0.5 * torch.sign(cued))
    assert set((coh.abs() * 8).round().unique().tolist()) <= {1.0, 2.0, 4.0, 8.0}
    assert bool((coh > 0).any()) and bool((coh < 0).any())


def test_sensory_channels_carry_coherence_plus_noise_of_the_paper_size():
    _, batch = sample(batch_size=512, seed=3)
    sensory = batch.inputs[..., 2:]
    expected_std = 0.05 / math.sqrt(0.2)
    outside = torch.cat([sensory[:15], sensory[115:]])
    # ~6e4 samples per channel: the std estimate is within 1% (3 standard errors ≈ 0.9%).
    assert outside.std().item() == pytest.approx(expected_std, rel=0.02)
    during = sensory[15:115].mean(0)  # mean over 100 steps: noise std ≈ 0.011
    assert torch.allclose(during, batch.info["coherence"], atol=0.05)


def test_score_reads_the_mean_over_the_decision_window():
    task, batch = sample(batch_size=8)
    out = batch.targets.clone()
    out[140:150] *= -3.0  # a wrong start that the rest of the window outweighs
    assert task.score(out, batch).item() == 1.0
    out[140:] *= -1.0
    assert task.score(out, batch).item() == 0.0


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="coherences"):
        tasks.make("mante", coherences=(0.0, 1.0))
