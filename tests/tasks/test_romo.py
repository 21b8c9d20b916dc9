"""Romo task: timings of Schuessler et al. (2020), REFERENCES.md §1."""

import pytest
import torch

import rnnrank.tasks as tasks


def sample(batch_size=256, seed=0, **options):
    task = tasks.make("romo", **options)
    return task, task.sample(batch_size, generator=torch.Generator().manual_seed(seed))


def test_frequencies_are_in_range_and_separated():
    _, batch = sample(batch_size=4096)
    f1, f2 = batch.info["f1"], batch.info["f2"]
    assert bool(((f1 - f2).abs() >= 0.2).all())
    for f in (f1, f2):
        assert 0.5 <= f.min().item() and f.max().item() <= 1.5


def test_trial_structure():
    task, batch = sample()
    # fixation 3 | f1 1 | delay U[2, 8] | f2 1 | wait 5 | decision 10, padded to delay 8: 28 → 140
    assert batch.n_steps == 140
    onset = batch.info["decision_onset"]
    assert int(onset.min()) >= 60 and int(onset.max()) <= 90  # (3+1+2+1+5)/0.2 .. (3+1+8+1+5)/0.2
    assert int(onset.max()) - int(onset.min()) > 20  # the delay really varies
    x = batch.inputs[..., 0]
    assert torch.equal(x[15:20], batch.info["f1"].expand(5, -1))
    for b in range(batch.batch_size):
        on = int(onset[b])
        f2_on = on - 25 - 5  # wait 5 → 25 steps, pulse 1 → 5 steps
        assert torch.equal(x[f2_on:f2_on + 5, b], batch.info["f2"][b].expand(5))
        assert (x[:, b] != 0).sum() == 10
        choice = int(batch.info["condition"][b])
        assert choice == int(batch.info["f2"][b] > batch.info["f1"][b])
        assert bool((batch.targets[on:on + 50, b, choice] == 0.5).all())
        assert bool((batch.targets[on:on + 50, b, 1 - choice] == 0).all())
        assert bool((batch.mask[on:on + 50, b] == 1).all())
        assert bool((batch.mask[on + 50:, b] == 0).all())  # after the decision window
        assert bool((batch.mask[:f2_on + 5, b] == 1).all())  # fixate=True: mask until f2 ends
        assert bool((batch.targets[:f2_on + 5, b] == 0).all())
        assert bool((batch.mask[f2_on + 5:on, b] == 0).all())  # the wait is free


def test_without_fixation_only_the_decision_window_counts():
    _, batch = sample(fixate=False)
    assert torch.equal(batch.mask.sum(0), torch.full((256, 2), 50.0))


def test_score_is_argmax_of_the_window_mean():
    task, batch = sample(batch_size=16)
    swapped = batch.targets.flip(-1)
    assert task.score(swapped, batch).item() == 0.0
    noise = 0.1 * torch.randn(batch.targets.shape, generator=torch.Generator().manual_seed(0))
    assert task.score(batch.targets + noise, batch).item() == 1.0


def test_rejects_bad_options():
    with pytest.raises(ValueError, match="min_difference"):
        tasks.make("romo", min_difference=2.0)
