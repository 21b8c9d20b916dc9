"""Task options are coerced to the task's field types or refused naming the option, the type it
expects, what came and an example — for every registered task, by the same ``make``."""

from __future__ import annotations

import dataclasses

import pytest

import rnnrank as rr
from rnnrank.tasks.base import TASKS


def test_yaml_values_are_coerced_to_the_field_types():
    task = rr.tasks.make("flipflop", n_bits=2.0, interval=[3, 8], duration="1e2")
    assert task.n_bits == 2 and isinstance(task.n_bits, int)
    assert task.interval == (3.0, 8.0) and all(isinstance(v, float) for v in task.interval)
    assert task.duration == 100.0  # YAML reads 1e2 as a string
    assert rr.tasks.make("reach", conditions=None).conditions is None
    assert rr.tasks.make("reach", conditions=[0, 2]).conditions == (0, 2)


@pytest.mark.parametrize("name, options, message", [
    ("flipflop", {"n_bits": "abc"},
     "task 'flipflop' option n_bits expects an integer, got 'abc' (str); e.g. n_bits=3"),
    ("flipflop", {"n_bits": 2.5}, "option n_bits expects an integer, got 2.5 (float)"),
    ("flipflop", {"n_bits": True}, "option n_bits expects an integer, got True (bool)"),
    ("flipflop", {"interval": 3},
     "option interval expects a list of 2 numbers, got 3 (int); e.g. interval=[5.0, 25.0]"),
    ("flipflop", {"memory": 3}, "option memory expects a string, got 3 (int); e.g. memory=all"),
    ("mante", {"fixate": "maybe"}, "option fixate expects true or false"),
    ("mante", {"coherences": 0.5}, "option coherences expects a list of numbers"),
    ("reach", {"conditions": [1, "a"]},
     "option conditions expects a list of integers (or null), got [1, 'a']"),
    ("delayed_xor", {"lags": [1]}, "option lags expects a list of 2 integers"),
])
def test_a_value_of_the_wrong_type_names_option_type_value_and_example(name, options, message):
    with pytest.raises(ValueError) as info:
        rr.tasks.make(name, **options)
    assert message in str(info.value)


@pytest.mark.parametrize("name", TASKS.names())
def test_every_task_rebuilds_from_its_own_options(name):
    """Each registered task's defaults pass the check (the types are read from its fields)."""
    if name == "neurogym":
        pytest.importorskip("neurogym")
    task = rr.tasks.make(name)
    again = rr.tasks.make(name, **task.options())  # YAML-like: tuples come back as lists
    assert again == task
    assert {f.name for f in dataclasses.fields(task)} >= set(task.options())
