"""One contract test over every registered task (STYLE.md §10)."""

import dataclasses

import pytest
import torch

import rnnrank.tasks as tasks


def build(name: str, fake_env_factory) -> tasks.Task:
    """The task with default options (the neurogym adapter wraps a fake env, see conftest)."""
    if name == "neurogym":
        return tasks.make(name, env=fake_env_factory(dt=20.0))
    return tasks.make(name)


def perfect(task: tasks.Task) -> float:
    return 1.0 if task.higher_is_better else 0.0


@pytest.mark.parametrize("name", tasks.available_tasks())
def test_task_contract(name, fake_env_factory):
    task = build(name, fake_env_factory)
    batch = task.sample(6, generator=torch.Generator().manual_seed(1))
    T = batch.n_steps
    assert batch.inputs.shape == (T, 6, task.n_in)
    assert batch.targets.shape == batch.mask.shape == (T, 6, task.n_out)
    for x in (batch.inputs, batch.targets, batch.mask):
        assert x.dtype == torch.float32
    assert batch.mask.sum() > 0
    assert bool(((batch.mask == 0) | (batch.mask == 1)).all())
    for value in batch.info.values():
        assert value.shape[0] == 6

    # Determinism: the generator is the only source of randomness.
    again = task.sample(6, generator=torch.Generator().manual_seed(1))
    other = task.sample(6, generator=torch.Generator().manual_seed(2))
    for a, b in ((batch.inputs, again.inputs), (batch.targets, again.targets),
                 (batch.mask, again.mask)):
        assert torch.equal(a, b)
    assert not (other.inputs.shape == batch.inputs.shape
                and torch.equal(other.inputs, batch.inputs)
                and torch.equal(other.targets, batch.targets))

    # Ideal outputs score perfectly (float32 round-off only: 1e-5 for the normalised errors,
    # e.g. reach's plant inversion in float64 then cast); bad outputs score clearly worse.
    ideal = task.ideal_outputs(batch)
    assert ideal.shape == (T, 6, task.n_out)
    assert task.score(ideal, batch).item() == pytest.approx(perfect(task), abs=1e-5)
    bad = [-ideal] + ([torch.zeros_like(ideal)] if not task.higher_is_better else [])
    for out in bad:
        gap = abs(task.score(out, batch).item() - perfect(task))
        assert gap > 0.3, f"{name}: bad outputs scored {gap} from perfect"
    if task.higher_is_better:
        assert task.score(-ideal, batch).item() < 0.5

    # An ensemble axis: [T, E, B, O] → one score per member.
    stacked = torch.stack([ideal, -ideal, ideal], dim=1)
    scores = task.score(stacked, batch)
    assert scores.shape == (3,)
    assert scores[0].item() == pytest.approx(perfect(task), abs=1e-5)
    assert scores[1].item() == pytest.approx(task.score(-ideal, batch).item(), abs=1e-5)

    # Options rebuild an equal task; unknown options are refused.
    assert tasks.make(name, **task.options()) == task
    with pytest.raises(ValueError, match="unknown option"):
        tasks.make(name, not_an_option=1)
    assert dataclasses.is_dataclass(task) and task.name == name
    assert task.dt == 0.2


def test_unknown_task_lists_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        tasks.make("no-such-task")
