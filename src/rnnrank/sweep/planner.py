"""The planner: which runs of a sweep still need work, grouped into jobs (batched ensembles).

A job is plain data (a dict of lists, strings and numbers) so that any backend can ship it: a
process pool, a Slurm array through submitit, a Ray task. Layout of a sweep directory::

    <sweep>/sweep.yaml            the spec as run last
    <sweep>/plan.json             every run: name, kind, options, overrides, directory
    <sweep>/runs/<name>/          one run directory per run (``rr.load_trajectory`` reads it)
    <sweep>/groups/<id>/          an ensemble in training (removed once split into its runs)
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from ..store.run_dir import RunDir
from .spec import RunSpec, SweepSpec, group_key

DONE = ("completed", "diverged")  # a diverged run would diverge again: it is finished too


def run_dir(out: Path, run: RunSpec) -> Path:
    return Path(out).resolve() / "runs" / run.name


def is_finished(run: RunSpec, path: Path) -> bool:
    """Completed (to the requested number of steps, for training) or diverged."""
    status = RunDir(path).read_status()
    if status.get("status") not in DONE:
        return False
    if run.kind == "train" and status["status"] == "completed":
        return int(status.get("step", -1)) >= run.options["steps"]
    return True


def plan(spec: SweepSpec, out: str | Path, *, workers: int = 1) -> list[dict]:
    """Jobs for the unfinished runs of ``spec`` in sweep directory ``out``.

    Fresh ``train`` runs that differ only in gain and seed form ensembles of at most
    ``spec.max_ensemble`` members, split further so that at least ``workers`` jobs exist when
    there are enough runs. Runs with a run directory already (interrupted alone, or finished
    with fewer steps) continue alone from their own checkpoint.
    """
    out = Path(out).resolve()
    jobs: list[dict] = []
    fresh: dict[str, list[RunSpec]] = {}
    for run in spec.expand():
        path = run_dir(out, run)
        if is_finished(run, path):
            continue
        if run.kind == "train" and not RunDir(path).is_run():
            fresh.setdefault(group_key(run.options), []).append(run)
        else:
            jobs.append(_job(out, [run]))
    n_keys = max(1, len(fresh))
    for runs in fresh.values():
        n_chunks = max(math.ceil(len(runs) / spec.max_ensemble), math.ceil(workers / n_keys))
        n_chunks = min(n_chunks, len(runs))
        size = math.ceil(len(runs) / n_chunks)
        jobs.extend(_job(out, runs[i:i + size]) for i in range(0, len(runs), size))
    return jobs


def _job(out: Path, runs: list[RunSpec]) -> dict:
    names = [r.name for r in runs]
    gid = hashlib.sha1("\n".join(names).encode()).hexdigest()[:12]
    return {"kind": runs[0].kind, "runs": [r.to_dict() for r in runs],
            "dirs": [str(run_dir(out, r)) for r in runs],
            "group_dir": str(out / "groups" / gid)}
