"""Sweep specs: validation errors name the key and the fix; expansion is the full product."""

from __future__ import annotations

import inspect
import itertools

import pytest

from rnnrank.cli import train as cli_train
from rnnrank.sweep import load_spec
from rnnrank.sweep.spec import TRAIN_OPTIONS

BASE = {"task": "flipflop", "n_rec": 16, "steps": 10}


def test_grid_times_runs_is_every_combination():
    grid = {"gain": [0.5, 1.0, 1.5], "seed": [0, 1]}
    runs = [{"lr": 1e-3}, {"lr": 3e-3, "steps": 20}]
    spec = load_spec({"train": BASE, "grid": grid, "runs": runs})
    got = [(r.options["lr"], r.options["steps"], r.options["gain"], r.options["seed"])
           for r in spec.expand()]
    # brute force: every override of runs with every grid combination, base filled in
    want = [(run["lr"], run.get("steps", 10), g, s)
            for run in runs for g, s in itertools.product(grid["gain"], grid["seed"])]
    assert got == want
    names = [r.name for r in spec.expand()]
    assert len(set(names)) == len(names) == 12


def test_names_ignore_steps_so_a_longer_rerun_extends_the_same_run():
    short = load_spec({"train": {**BASE, "steps": 10}, "grid": {"seed": [0]}}).expand()[0]
    long = load_spec({"train": {**BASE, "steps": 50}, "grid": {"seed": [0]}}).expand()[0]
    other = load_spec({"train": {**BASE, "lr": 0.01}, "grid": {"seed": [0]}}).expand()[0]
    assert short.name == long.name != other.name


def test_rnnrank_train_takes_every_option_of_the_run_schema_with_its_default():
    """The command line, a sweep's train: section and the schema name the same options."""
    params = inspect.signature(cli_train).parameters
    # where and how, not what the run is (ctx: typer's context, for the resume command)
    cli_only = ("ctx", "out", "overwrite", "as_json", "threads")
    # list-valued CLI spellings of schema options
    spelled = {"task_option": "task_options", "rule_option": "rule_options",
               "flossing_option": "flossing"}
    seen = set()
    for name, param in params.items():
        if name in cli_only:
            continue
        key = spelled.get(name, name)
        seen.add(key)
        if key in ("task_options", "rule_options"):
            assert param.default is None and TRAIN_OPTIONS[key] == {}, key
        elif key == "flossing":  # --flossing [--flossing-option k=v]: off by default
            assert TRAIN_OPTIONS["flossing"] is None and param.default in (False, None)
        elif key == "trainable":  # repeatable --trainable; none given = the schema's default
            assert param.default is None and TRAIN_OPTIONS[key] == ["W", "U", "V", "b"]
        else:
            assert TRAIN_OPTIONS[key] == param.default, key
    assert seen == set(TRAIN_OPTIONS), sorted(set(TRAIN_OPTIONS) ^ seen)


@pytest.mark.parametrize("spec, match", [
    ({"train": BASE, "grids": {}}, r"unknown spec key\(s\) \['grids'\]; valid keys"),
    ({"grid": {"seed": [0]}}, "exactly one of train:, fit:, analyze:, got none"),
    ({"train": BASE, "analyze": {"run": "x"}}, r"exactly one of .* got \['train', 'analyze'\]"),
    ({"train": {"n_recc": 3}}, r"unknown option\(s\) \['n_recc'\] in train:; valid train"),
    ({"train": BASE, "grid": {"gain": 1.0}}, r"grid.gain must be a non-empty list"),
    ({"train": BASE, "grid": {"gain": []}}, r"grid.gain must be a non-empty list"),
    ({"train": BASE, "grid": {"colour": [1]}}, r"unknown option\(s\) \['colour'\] in grid:"),
    ({"train": BASE, "runs": [{"lrr": 1}]}, r"unknown option\(s\) \['lrr'\] in runs\[0\]"),
    ({"train": {**BASE, "steps": "many"}}, "train option steps must be a int, got 'many'"),
    ({"train": {**BASE, "task": "nope"}}, "unknown task 'nope'; choose one of"),
    ({"train": {**BASE, "dtype": "float16"}}, "dtype must be one of"),
    ({"train": BASE, "max_ensemble": 0}, "max_ensemble must be a positive integer"),
    ({"analyze": {}}, "analyze: needs run:"),
    ({"fit": {"rank": 3}}, r"fit: needs \['recording'\]"),
    ([1, 2], "a sweep spec is a mapping"),
])
def test_bad_specs_say_what_and_how_to_fix(spec, match):
    with pytest.raises(ValueError, match=match):
        load_spec(spec)


def test_yaml_file_and_missing_file(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("train: {task: flipflop, n_rec: 8}\ngrid: {seed: [0, 1, 2]}\n")
    assert [r.options["seed"] for r in load_spec(path).expand()] == [0, 1, 2]
    with pytest.raises(FileNotFoundError, match="not found"):
        load_spec(tmp_path / "none.yaml")
