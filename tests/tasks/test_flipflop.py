"""Flip-flop task: the window semantics of Schuessler et al.'s code (memory="last") and of
Sussillo & Barak (memory="all"), checked against a per-trial brute-force reference."""

import pytest
import torch

import rnnrank.tasks as tasks


def reference(task, batch):
    """Targets and mask built entry by entry from the pulse list in ``batch.info``."""
    T, B, n = batch.targets.shape
    settle = round(task.settle / task.dt)
    targets, mask = torch.zeros(T, B, n), torch.zeros(T, B, n)
    for b in range(B):
        onsets = [int(o) for o in batch.info["onsets"][b]]
        state = [None] * n
        for p, on in enumerate(onsets):
            nxt = onsets[p + 1] if p + 1 < len(onsets) else T
            c, s = int(batch.info["channels"][b, p]), float(batch.info["signs"][b, p])
            for t in range(on + settle, min(nxt, T)):
                if task.memory == "last":
                    targets[t, b] = 0.0
                    mask[t, b] = 1.0
                    targets[t, b, c] = 0.5 * s
            if task.memory == "all":
                state[c] = 0.5 * s
                for t in range(on, T):
                    if t >= on + settle:
                        targets[t, b, c] = state[c]
                        mask[t, b, c] = 1.0
                    else:
                        mask[t, b, c] = 0.0
    return targets, mask


def test_memory_last_windows_match_schuessler():
    task = tasks.make("flipflop", n_bits=2, memory="last")
    batch = task.sample(12, generator=torch.Generator().manual_seed(0))
    targets, mask = reference(task, batch)
    assert torch.equal(batch.targets, targets)
    assert torch.equal(batch.mask, mask)
    # Before the first pulse has settled nothing is asked.
    first = int(batch.info["onsets"][:, 0].min()) + 25
    assert bool((batch.mask[:first] == 0).all())


def test_memory_all_holds_each_bit_until_overwritten():
    task = tasks.make("flipflop", n_bits=3, memory="all")
    batch = task.sample(12, generator=torch.Generator().manual_seed(1))
    targets, mask = reference(task, batch)
    assert torch.equal(batch.mask, mask)
    assert torch.equal(batch.targets * batch.mask, targets * mask)


def test_pulses_on_the_inputs():
    task = tasks.make("flipflop", n_bits=2, memory="last")
    batch = task.sample(4, generator=torch.Generator().manual_seed(2))
    T = batch.n_steps
    assert T == 250  # duration 50 at dt 0.2
    for b in range(4):
        for p, on in enumerate(batch.info["onsets"][b].tolist()):
            if on + 5 > T:
                break
            c, s = int(batch.info["channels"][b, p]), float(batch.info["signs"][b, p])
            assert torch.equal(batch.inputs[on:on + 5, b, c], torch.full((5,), s))
        gaps = batch.info["onsets"][b].diff()
        assert bool((gaps >= 50).all()) and bool((gaps <= 150).all())  # (5..25) + settle 5


def reference_inputs(task, batch):
    """Inputs built entry by entry: ±amplitude on the pulsed channel for the pulse's steps."""
    T, B, n = batch.inputs.shape
    pulse = round(task.pulse_duration / task.dt)
    inputs = torch.zeros(T, B, n)
    for b in range(B):
        for p, on in enumerate(batch.info["onsets"][b].tolist()):
            c, s = int(batch.info["channels"][b, p]), float(batch.info["signs"][b, p])
            for t in range(on, min(on + pulse, T)):
                inputs[t, b, c] += s * task.input_amplitude
    return inputs


@pytest.mark.parametrize("memory", ["last", "all"])
@pytest.mark.parametrize("options", [
    {"n_bits": 2, "dt": 0.5},  # Schuessler's grid
    {"n_bits": 3, "dt": 0.5, "interval": (0.0, 3.0), "settle": 2.0},  # pulses back to back
    {"n_bits": 4, "dt": 0.25, "duration": 30.0, "first_pulse": 0.0, "input_amplitude": 2.0},
])
def test_every_entry_matches_the_reference_across_seeds(memory, options):
    """The batched construction (all pulses at once) against the entry-by-entry reference."""
    task = tasks.make("flipflop", memory=memory, **options)
    for seed in range(6):
        batch = task.sample(9, generator=torch.Generator().manual_seed(seed))
        targets, mask = reference(task, batch)
        assert torch.equal(batch.inputs, reference_inputs(task, batch))
        assert torch.equal(batch.mask, mask)
        assert torch.equal(batch.targets * batch.mask, targets * mask)
