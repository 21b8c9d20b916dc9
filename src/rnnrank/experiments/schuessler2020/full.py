"""``rnnrank reproduce schuessler2020 --full``: the paper's 145 networks as ``rr.sweep`` runs.

One sweep per task (``<out>/sweeps/<task>``): the grid g × seed of the paper's setup, trained as
batched ensembles (members differ only in gain and seed), resumable after a kill, on any sweep
backend (``local``, ``slurm``, ``ray``). Each network ends in its own run directory, which
``analyse_sweep`` reads back and analyses exactly as ``schuessler2020.analyse_task`` does for an
ensemble member (the same rows, the same gate).
"""

from __future__ import annotations

import time
from pathlib import Path

from ...learning.schema import build_run
from ...store.run_dir import RunDir
from ...store.trajectory import load_trajectory
from ...sweep import load_spec, plan, run_sweep
from ...sweep.planner import run_dir


def sweep_spec(task: str, setup) -> dict:
    """The sweep spec of one task: base options of the setup, grid gain × seed."""
    return {
        "name": f"schuessler2020-{task}",
        "max_ensemble": 64,
        "train": {"task": task, "task_options": dict(setup.task_options[task]),
                  "n_rec": setup.n_rec, "dt": setup.dt, "tau": 1.0,
                  "steps": setup.steps[task], "lr": setup.lr, "optimizer": "adam",
                  "batch_size": setup.batch_size, "record_every": setup.record_every,
                  "checkpoint_every": 100, "trainable": list(setup.trainable)},
        "grid": {"gain": setup.gains(task), "seed": list(setup.seeds)},
    }


def plan_full(setup, out: str | Path, *, workers: int = 1) -> dict:
    """{task: jobs still to run} without running anything (``--full --dry-run``)."""
    out = Path(out)
    return {t: plan(load_spec(sweep_spec(t, setup)), out / "sweeps" / t, workers=workers)
            for t in setup.tasks}


def train_full(setup, out: str | Path, *, backend: str = "local", workers: int | None = None,
               progress: bool = False, **backend_options) -> dict:
    """Run (or resume) the sweep of every task; returns {task: seconds}."""
    timings = {}
    for t in setup.tasks:
        t0 = time.perf_counter()
        run_sweep(sweep_spec(t, setup), Path(out) / "sweeps" / t, backend=backend,
                  workers=workers, progress=progress, **backend_options)
        timings[t] = round(time.perf_counter() - t0, 1)
    return timings


class _LoneRun:
    """What ``analyse_task`` reads of a run: ``model``, ``trajectory``, ``path``."""

    def __init__(self, model, trajectory, path) -> None:
        self.model, self.trajectory, self.path = model, trajectory, path


def analyse_sweep(setup, out: str | Path) -> list[dict]:
    """Rows of ``analyse_task`` for every finished run of every task's sweep."""
    from .run import analyse_task

    rows = []
    for t in setup.tasks:
        spec = load_spec(sweep_spec(t, setup))
        for run in spec.expand():
            path = run_dir(Path(out) / "sweeps" / t, run)
            if RunDir(path).read_status().get("status") != "completed":
                continue
            model, task, _, _ = build_run(run.options)
            lone = _LoneRun(model, load_trajectory(path), path)
            member = [(float(run.options["gain"]), int(run.options["seed"]))]
            rows += analyse_task(lone, task, member, setup)
    return rows


def run_full(out: Path, setup, *, backend: str = "local", workers: int | None = None,
             lstm: bool = True, progress: bool = False, **backend_options) -> dict:
    """The paper's setup through sweeps: train (resuming), analyse every network, the linear
    model and the LSTM; returns the results (``run.collect``)."""
    from .run import collect, linear_part, lstm_part

    out = Path(out)
    t0 = time.perf_counter()
    timings = train_full(setup, out, backend=backend, workers=workers, progress=progress,
                         **backend_options)
    t1 = time.perf_counter()
    rows = analyse_sweep(setup, out)
    timings["analysis"] = round(time.perf_counter() - t1, 1)
    t1 = time.perf_counter()
    lin = linear_part(setup)
    timings["linear"] = round(time.perf_counter() - t1, 1)
    lstm_result = lstm_part(setup, out) if lstm else None
    return collect(setup, rows, lin, lstm_result, timings, time.perf_counter() - t0)


def reproduce_full(out: str | Path = "runs/schuessler2020", *, backend: str = "local",
                   workers: int | None = None, lstm: bool = True, progress: bool = False,
                   **backend_options) -> dict:
    """``run_full`` through the reproduction driver: results.json, the report, the results."""
    from ..framework import reproduce

    return reproduce("schuessler2020", out, full=True, progress=progress, backend=backend,
                     workers=workers, lstm=lstm, **backend_options).results
