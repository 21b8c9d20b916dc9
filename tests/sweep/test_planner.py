"""The planner: gain/seed-only differences share an ensemble; anything else splits jobs."""

from __future__ import annotations

import pytest

from rnnrank.store.run_dir import RunDir
from rnnrank.sweep import load_spec, plan

BASE = {"task": "flipflop", "n_rec": 8, "steps": 4}


def _sizes(jobs):
    return sorted(len(j["runs"]) for j in jobs)


def test_runs_differing_in_gain_and_seed_only_share_one_ensemble(tmp_path):
    spec = load_spec({"train": BASE, "grid": {"gain": [0.5, 1.0, 1.5], "seed": [0, 1],
                                              "lr": [1e-3, 2e-3]}})
    jobs = plan(spec, tmp_path, workers=1)
    assert _sizes(jobs) == [6, 6]  # one ensemble per learning rate
    for job in jobs:
        lrs = {r["options"]["lr"] for r in job["runs"]}
        assert len(lrs) == 1
        assert len({(r["options"]["gain"], r["options"]["seed"]) for r in job["runs"]}) == 6


@pytest.mark.parametrize("max_ensemble, workers, sizes", [
    (32, 1, [12]), (5, 1, [4, 4, 4]), (32, 2, [6, 6]), (32, 24, [1] * 12), (4, 2, [4, 4, 4]),
])
def test_ensembles_are_capped_and_split_to_feed_the_workers(tmp_path, max_ensemble, workers,
                                                             sizes):
    spec = load_spec({"train": BASE, "grid": {"seed": list(range(12))},
                      "max_ensemble": max_ensemble})
    jobs = plan(spec, tmp_path, workers=workers)
    assert _sizes(jobs) == sizes
    names = [r["name"] for j in jobs for r in j["runs"]]
    assert sorted(names) == sorted(r.name for r in spec.expand())  # each run exactly once


def test_finished_runs_are_skipped_and_started_ones_continue_alone(tmp_path):
    spec = load_spec({"train": BASE, "grid": {"seed": [0, 1, 2, 3]}})
    runs = spec.expand()
    done = RunDir(tmp_path / "runs" / runs[0].name)
    done.path.mkdir(parents=True)
    done.write_config({})
    done.write_status("completed", step=4)
    started = RunDir(tmp_path / "runs" / runs[1].name)
    started.path.mkdir(parents=True)
    started.write_config({})
    started.write_status("interrupted", step=2)
    jobs = plan(spec, tmp_path, workers=1)
    by_size = {len(j["runs"]): [r["name"] for r in j["runs"]] for j in jobs}
    assert by_size == {1: [runs[1].name], 2: [runs[2].name, runs[3].name]}
    # a completed run asked for more steps is not finished: it continues alone
    longer = load_spec({"train": {**BASE, "steps": 8}, "grid": {"seed": [0, 1, 2, 3]}})
    assert runs[0].name in [r["name"] for j in plan(longer, tmp_path) for r in j["runs"]]


@pytest.mark.parametrize("device, gpu", [("cpu", False), ("cuda", True), ("cuda:1", True)])
def test_runs_on_a_gpu_default_to_one_worker_training_the_whole_grid(device, gpu, tmp_path,
                                                                     monkeypatch):
    """One process per core on the CPU; on a GPU one process, so that the grid's networks share
    one ensemble on the device instead of slices of it contending from several processes."""
    from rnnrank.sweep import runner

    monkeypatch.setattr(runner, "available_cores", lambda: 8)
    runs = load_spec({"train": {**BASE, "device": device},
                      "grid": {"gain": [0.5, 1.0], "seed": [0, 1, 2, 3]}}).expand()
    workers = runner.default_workers(runs)
    assert workers == (1 if gpu else 8)
    assert _sizes(plan(load_spec({"train": BASE, "grid": {"gain": [0.5, 1.0],
                                                          "seed": [0, 1, 2, 3]}}),
                       tmp_path, workers=workers)) == ([8] if gpu else [1] * 8)


def test_auto_device_means_the_gpu_only_where_there_is_one(monkeypatch):
    from rnnrank.learning.schema import resolve_device

    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda:1") == "cuda:1"
