"""Reach task: the plant, its Toeplitz effector, the ideal forces and the perturbations."""

import math

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

import rnnrank.tasks as tasks
from rnnrank.tasks.reach import plant_matrices


def simulate(task, forces):
    """Step-by-step reference: s[t+1] = A s[t] + G F[t], hand = p[t+1]; forces [T, B, 2] f64."""
    A, G = plant_matrices(task.mass, task.damping, task.curl, task.rotation, task.dt)
    s = torch.zeros(forces.shape[1], 4, dtype=torch.float64)
    hand = []
    for f in forces:
        s = s @ A.T + f @ G.T
        hand.append(s[:, :2])
    return torch.stack(hand)


def test_discretisation_is_exact_for_a_constant_force():
    task = tasks.make("reach", curl=1.5, rotation=30.0, damping=0.7, mass=2.0)
    A, G = plant_matrices(task.mass, task.damping, task.curl, task.rotation, task.dt)
    th = math.radians(30.0)
    R = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    field = np.array([[-0.7, 1.5], [-1.5, -0.7]])
    s0, F = np.array([0.3, -0.2, 0.5, 0.1]), np.array([0.4, -1.1])

    def rhs(_, s):
        return np.concatenate([s[2:], (R @ F + field @ s[2:]) / 2.0])

    ref = solve_ivp(rhs, (0.0, task.dt), s0, rtol=1e-12, atol=1e-12).y[:, -1]
    ours = A.numpy() @ s0 + G.numpy() @ F
    np.testing.assert_allclose(ours, ref, atol=1e-9)  # limited by the ODE solver's tolerance


@pytest.mark.parametrize("curl, rotation", [(0.0, 0.0), (2.0, 0.0), (-1.0, 45.0)])
def test_toeplitz_effector_equals_step_by_step_simulation(curl, rotation):
    task = tasks.make("reach", curl=curl, rotation=rotation)
    forces = torch.randn(25, 2, 3, 2, generator=torch.Generator().manual_seed(0),
                         dtype=torch.float64)  # [T, E, B, 2]
    hand = task.effector(forces)
    assert hand.shape == forces.shape
    for e in range(2):
        ref = simulate(task, forces[:, e])
        assert torch.allclose(hand[:, e], ref, rtol=0, atol=1e-10)  # float64 round-off


def test_effector_is_differentiable():
    task = tasks.make("reach")
    forces = torch.zeros(25, 4, 2, requires_grad=True)
    task.effector(forces).sum().backward()
    assert forces.grad is not None and forces.grad.abs().sum() > 0


def test_trial_timing():
    task = tasks.make("reach")
    batch = task.sample(16, generator=torch.Generator().manual_seed(0))
    # hold 1 → go at step 5; movement 2 → arrival at step 15; duration 5 → 25 steps
    assert batch.n_steps == 25
    assert bool((batch.inputs[:5, :, 2] == 1).all()) and bool((batch.inputs[5:, :, 2] == 0).all())
    assert bool((batch.mask[5:15] == 0).all()) and bool((batch.mask[:5] == 1).all())
    assert bool((batch.mask[15:] == 1).all()) and bool((batch.targets[:5] == 0).all())
    theta = 2 * math.pi * batch.info["condition"].double() / 8
    end = torch.stack([torch.cos(theta), torch.sin(theta)], -1).float()
    assert torch.allclose(batch.targets[15:], end.expand(10, -1, -1), atol=1e-6)
    assert torch.allclose(batch.inputs[0, :, :2], end, atol=1e-6)


def test_ideal_forces_reach_and_hold_the_target():
    task = tasks.make("reach", curl=2.0)
    batch = task.sample(8, generator=torch.Generator().manual_seed(1))
    forces = task.ideal_outputs(batch).double()
    hand = task.effector(forces)
    m = batch.mask.bool()
    assert torch.allclose(hand[m], batch.targets.double()[m], atol=1e-5)  # float32 forces
    assert bool((forces[:5] == 0).all()) and bool((forces[16:] == 0).all())


def test_curl_field_deflects_the_baseline_solution():
    base = tasks.make("reach")
    curl = base.with_perturbation(curl=2.0)
    batch = base.sample(8, generator=torch.Generator().manual_seed(2))
    forces = base.ideal_outputs(batch)
    assert base.score(forces, batch).item() < 1e-6
    assert curl.score(forces, batch).item() > 0.01
    assert not torch.allclose(base.effector(forces), curl.effector(forces), atol=1e-3)
    # Washout: back to the baseline plant, the baseline forces work again.
    washout = curl.with_perturbation(curl=0.0)
    assert washout == base and washout.score(forces, batch).item() < 1e-6


def test_rotation_by_90_degrees_rotates_the_endpoint():
    base = tasks.make("reach")
    rotated = base.with_perturbation(rotation=90.0)
    assert rotated.curl == base.curl and rotated.rotation == 90.0
    batch = base.sample(8, generator=torch.Generator().manual_seed(3))
    forces = base.ideal_outputs(batch).double()
    end = rotated.effector(forces)[-1]  # [B, 2]
    goal = batch.targets[-1].double()
    expected = torch.stack([-goal[:, 1], goal[:, 0]], -1)  # R(90°) · target
    assert torch.allclose(end, expected, atol=1e-5)


def test_conditions_option_fixes_the_targets():
    task = tasks.make("reach", conditions=(2, 5))
    batch = task.sample(64, generator=torch.Generator().manual_seed(0))
    assert set(batch.info["condition"].tolist()) == {2, 5}
    with pytest.raises(ValueError, match="conditions"):
        tasks.make("reach", conditions=(8,))


def test_random_preparatory_period_moves_each_trials_go_cue():
    """hold 1 ± 0.4 at dt 0.2: go steps 3 … 7; each trial's hold channel, mask and targets are
    the fixed-hold trial's shifted by its own go cue, and the ideal forces still solve it."""
    task = tasks.make("reach", hold_jitter=0.4, curl=1.0)
    batch = task.sample(64, generator=torch.Generator().manual_seed(4))
    go = batch.info["go"]
    assert task.go_range() == (3, 7) and int(go.min()) == 3 and int(go.max()) == 7
    fixed = tasks.make("reach", curl=1.0)
    for b in range(64):
        g = int(go[b])
        hold = batch.inputs[:, b, 2]
        assert bool((hold[:g] == 1).all()) and bool((hold[g:] == 0).all())
        mask = batch.mask[:, b]
        assert bool((mask[g:g + 10] == 0).all()) and bool((mask[g + 10:] == 1).all())
        ref = fixed.sample(1, generator=torch.Generator().manual_seed(0))
        shift = g - 5  # the fixed task's go step is 5
        lo, hi = max(0, shift), min(25, 25 + shift)
        # the same minimum-jerk path, shifted (condition-independent up to the direction)
        theta = 2 * math.pi * float(batch.info["condition"][b]) / 8
        d = torch.tensor([math.cos(theta), math.sin(theta)])
        path = ref.targets[lo - shift:hi - shift, 0] @ torch.tensor(
            [math.cos(2 * math.pi * float(ref.info["condition"][0]) / 8),
             math.sin(2 * math.pi * float(ref.info["condition"][0]) / 8)])
        assert torch.allclose(batch.targets[lo:hi, b] @ d, path, atol=1e-6)
    hand = task.effector(task.ideal_outputs(batch).double())
    m = batch.mask.bool()
    assert torch.allclose(hand[m], batch.targets.double()[m], atol=1e-5)


def test_align_on_go_cuts_every_trial_to_the_common_window():
    task = tasks.make("reach", hold_jitter=0.4)
    batch = task.sample(32, generator=torch.Generator().manual_seed(5))
    aligned = task.align_on_go(batch.inputs, batch.info["go"])  # go_min 3, T − go_max = 18
    assert aligned.shape == (3 + 18, 32, 3)
    assert bool((aligned[:3, :, 2] == 1).all()) and bool((aligned[3:, :, 2] == 0).all())
    with pytest.raises(ValueError, match="hold_jitter < hold"):
        tasks.make("reach", hold_jitter=1.0)
