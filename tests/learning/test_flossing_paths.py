"""Flossing(inputs="task") receives the run's task on every path that builds it (issue 23):
``rr.train``, the CLI's ``--flossing``, a sweep's ``flossing:`` option and the Liu et al.
reproduction's pre-flossing. A spy on ``Flossing.init`` records the task each call got; without
one the hook now raises instead of flossing the autonomous network."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

import rnnrank as rr
from rnnrank.cli import main
from rnnrank.learning.flossing import Flossing
from rnnrank.store.run_dir import RunDir

TINY = dict(k=2, pre=2, window=8, discard=2, warmup=3)


@pytest.fixture
def seen(monkeypatch):
    """Names of the tasks every ``Flossing.init`` call received (None: no task)."""
    calls: list = []
    original = Flossing.init

    def spy(self, model, generator, task=None):
        calls.append(None if task is None else task.name)
        return original(self, model, generator, task=task)

    monkeypatch.setattr(Flossing, "init", spy)
    return calls


def test_a_hook_without_the_task_refuses_to_floss():
    model = rr.RateRNN(2, 8, 1, gain=2.0, seed=0)
    with pytest.raises(ValueError, match="needs the run's task"):
        Flossing(**TINY).init(model, torch.Generator())
    hook = Flossing(**TINY)
    with pytest.raises(RuntimeError, match="before init"):
        hook.floss(model, 1)


def test_rr_train_passes_the_task(seen):
    task = rr.tasks.make("flipflop", n_bits=2, duration=10.0, dt=0.5)
    model = rr.RateRNN(2, 8, 2, gain=2.0, seed=0, dt=0.5)
    rr.train(model, task, steps=1, flossing=Flossing(**TINY))
    assert seen == ["flipflop"]


def test_the_cli_passes_the_task(seen, tmp_path, capsys):
    out = tmp_path / "ff"
    argv = ["train", "--out", str(out), "--task-option", "n_bits=2", "--task-option",
            "duration=10", "--n-rec", "8", "--steps", "2", "--dt", "0.5", "--flossing",
            *sum((["--flossing-option", f"{k}={v}"] for k, v in TINY.items()), []), "--json"]
    assert main(argv) == 0
    assert seen == ["flipflop"]
    hooks = RunDir(out).read_config()["hooks"]
    assert hooks[0]["name"] == "flossing" and hooks[0]["inputs"] == "task"
    assert main(["train", "--out", str(tmp_path / "x"), "--flossing-option", "pre=1"]) == 2


def test_a_sweep_passes_the_task_to_every_member(seen, tmp_path):
    spec = {"train": {"task": "flipflop", "task_options": {"n_bits": 2, "duration": 10.0},
                      "n_rec": 8, "dt": 0.5, "steps": 2, "flossing": TINY},
            "grid": {"gain": [0.5, 2.0]}}
    table = rr.sweep.run_sweep(spec, tmp_path / "sw", workers=1)
    assert list(table["status"]) == ["completed", "completed"]
    assert seen == ["flipflop", "flipflop"]  # each member alone (NotGroupable), with the task
    with pytest.raises(ValueError, match="flossing must be a mapping"):
        rr.sweep.load_spec({"train": {"flossing": 3}})


def test_the_liu2024_preflossing_passes_the_task(seen, tmp_path):
    from rnnrank.experiments import liu2024 as liu

    setup = replace(liu.quick(), n_rec=8, steps=1, ini_gains=(1.0,), seeds=(0,),
                    tasks=("mante",), rules=("bptt",), floss_updates=1, floss_k=2,
                    lyap_steps=10, lyap_warmup=5, record_every=1, test_batch=4,
                    task_options={"mante": {"stimulus": 1.0, "delay": 0.5, "decision": 1.0}})
    liu.run_arm("mante", "bptt", True, setup, tmp_path)
    assert seen == ["mante"]


def test_the_flossing_loss_is_logged_beside_the_rules(tmp_path):
    """A hook's loss terms reach metrics.csv: the pre-flossing phase's mean loss at update 0
    (the mean of the losses the hook kept, an independent record), empty elsewhere."""
    task = rr.tasks.make("flipflop", n_bits=2, duration=10.0, dt=0.5)
    model = rr.RateRNN(task.n_in, 8, task.n_out, gain=2.0, seed=0, dt=0.5)
    hook = rr.learning.Flossing(**TINY)
    rr.train(model, task, steps=3, batch_size=4, record_every=1, out=tmp_path / "r",
             flossing=hook)
    rows = rr.store.run_dir.RunDir(tmp_path / "r").read_metrics()
    fields = rr.store.run_dir.RunDir(tmp_path / "r").metric_fields()
    col = fields.index("flossing.loss")
    logged = {r[0]: r[col] for r in rows}
    assert logged[0] == pytest.approx(sum(hook.losses) / len(hook.losses), rel=1e-6)
    assert all(np.isnan(logged[s]) for s in (1, 2, 3))
