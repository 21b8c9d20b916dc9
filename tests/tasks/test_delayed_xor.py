"""Delayed XOR: targets against a brute-force labeller, masks, bit holding and the scores."""

import pytest
import torch

import rnnrank.tasks as tasks


def brute_force(inputs, steps_per_bit, lags):
    """Label every step with explicit loops: read bit k at its first step, XOR the lagged bits."""
    T, B, _ = inputs.shape
    targets, mask = torch.zeros(T, B), torch.zeros(T, B)
    for b in range(B):
        bits = [int(inputs[k * steps_per_bit, b, 0]) for k in range(T // steps_per_bit)]
        for t in range(T):
            k = t // steps_per_bit
            if k >= max(lags):
                targets[t, b] = bits[k - lags[0]] ^ bits[k - lags[1]]
                mask[t, b] = 1.0
    return targets, mask


@pytest.mark.parametrize("options", [{}, {"lags": (3, 1), "n_bits": 9, "bit_time": 0.5,
                                          "dt": 0.25}])
def test_targets_match_a_brute_force_labeller(options):
    task = tasks.make("delayed_xor", **options)
    batch = task.sample(7, generator=torch.Generator().manual_seed(3))
    spb = task.steps_per_bit
    assert batch.n_steps == task.n_bits * spb
    # every bit is held constant for its steps, and is 0 or 1
    held = batch.inputs[:, :, 0].reshape(task.n_bits, spb, 7)
    assert bool((held == held[:, :1]).all()) and set(held.unique().tolist()) <= {0.0, 1.0}
    targets, mask = brute_force(batch.inputs, spb, task.lags)
    assert torch.equal(batch.targets[..., 0], targets)
    assert torch.equal(batch.mask[..., 0], mask)


def test_defaults_are_engelkens_step_counts():
    task = tasks.make("delayed_xor", dt=0.1)  # 300 steps, lags of 10 and 20 steps
    batch = task.sample(2, generator=torch.Generator().manual_seed(0))
    assert batch.n_steps == 300 and task.steps_per_bit * task.lags[1] == 20


def test_scores_of_ideal_mean_and_flipped_outputs():
    task = tasks.make("delayed_xor", n_bits=200)
    batch = task.sample(16, generator=torch.Generator().manual_seed(1))
    ideal = batch.targets
    assert task.accuracy(ideal, batch).item() == 1.0
    assert task.accuracy(1 - ideal, batch).item() == 0.0
    assert task.score(ideal, batch).item() == pytest.approx(0.0, abs=1e-6)
    mean = (ideal * batch.mask).sum() / batch.mask.sum()
    # outputting the masked mean has normalised error 1 by definition (float32 sums: 1e-5)
    assert task.score(torch.full_like(ideal, mean.item()), batch).item() == pytest.approx(
        1.0, abs=1e-5)


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="two different positive integers"):
        tasks.make("delayed_xor", lags=(2, 2))
    with pytest.raises(ValueError, match="n_bits must exceed"):
        tasks.make("delayed_xor", n_bits=2)
    with pytest.raises(ValueError, match="bit_time must be"):
        tasks.make("delayed_xor", bit_time=0.05)
