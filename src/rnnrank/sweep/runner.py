"""``run_sweep``: validate a spec, plan the unfinished runs, execute them on a backend, collect.

Re-running a sweep skips finished runs and resumes interrupted ones from their checkpoints (an
ensemble from its group directory, a lone run from its own); a ``kill -9`` of the whole sweep
loses no finished run and at most the snapshots since the last checkpoint of the running ones.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from ..store.atomic import read_json, write_json_atomic, write_yaml_atomic
from .backends import available_cores, execute, local_layout
from .collect import collect
from .planner import is_finished, plan, run_dir
from .spec import RunSpec, SweepSpec, load_spec


def run_sweep(spec: str | Path | dict | SweepSpec, out: str | Path, *, backend: str = "local",
              workers: int | None = None, progress: bool = False, **backend_options):
    """Run every unfinished run of ``spec`` into sweep directory ``out``.

    Args:
        spec: a YAML path, a dict, or a ``SweepSpec`` (see ``spec``).
        out: the sweep directory (``runs/<name>/`` per run, ``plan.json``, ``sweep.yaml``).
        backend: ``"local"`` (process pool sized to the cores; ``workers=1`` runs in this
            process), ``"slurm"`` (submitit: ``partition``, ``time`` minutes, ``cpus_per_job``,
            ``gpus_per_job``, ``mem_gb``, ``cluster``) or ``"ray"`` (``address``,
            ``cpus_per_job``).
        workers: local processes (default: one per core, at most one per job; one when the
            runs train on a GPU, ``default_workers``).
        progress: a rich progress bar over the sweep's runs.

    Returns:
        ``collect(out)``: a pandas DataFrame, one row per run; ``table.attrs["already_complete"]``
        counts the runs finished (completed or diverged) before this call, which it skipped,
        ``table.attrs["run_now"]`` those it ran; for the local backend ``table.attrs["layout"]``
        is the (worker processes, torch threads each) it ran with.
    """
    spec = spec if isinstance(spec, SweepSpec) else load_spec(spec)
    runs = spec.expand()
    validate_runs(runs)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    write_yaml_atomic(out / "sweep.yaml", spec.to_dict())
    write_json_atomic(out / "plan.json", {"name": spec.name, "kind": spec.kind, "runs": [
        {**r.to_dict(), "dir": str(run_dir(out, r).relative_to(out))} for r in runs]})
    n_workers = workers if workers is not None else default_workers(runs)
    jobs = plan(spec, out, workers=n_workers if backend == "local" else 1)
    todo = sum(len(j["runs"]) for j in jobs)
    with _progress(progress, len(runs), len(runs) - todo, spec.name) as advance:
        execute(jobs, backend, out, on_result=advance,
                workers=n_workers if backend == "local" else workers, **backend_options)
    if (out / "groups").is_dir() and not any((out / "groups").iterdir()):
        (out / "groups").rmdir()
    table = collect(out)
    table.attrs["already_complete"], table.attrs["run_now"] = len(runs) - todo, todo
    if backend == "local":
        table.attrs["layout"] = local_layout(len(jobs), n_workers)  # (processes, threads)
    return table


def finished_runs(out: str | Path) -> tuple[int, int]:
    """(finished, total) runs of the sweep directory ``out``, counted as the planner does (a
    completed run to its steps, or a diverged one); (0, 0) before its plan.json is written."""
    out = Path(out)
    if not (out / "plan.json").exists():
        return 0, 0
    runs = read_json(out / "plan.json")["runs"]
    done = sum(is_finished(RunSpec(r["kind"], r["options"], r.get("overrides", {})),
                           out / r["dir"]) for r in runs)
    return done, len(runs)


def default_workers(runs) -> int:
    """Local worker processes when none are asked for: one per core for training on the CPU;
    one when runs train on a GPU, so that a single process trains every network of a group as one
    ensemble on the device (several processes would share it, each with a slice of the grid)."""
    from ..learning.schema import resolve_device

    if any(r.kind == "train" and resolve_device(r.options.get("device", "cpu")) != "cpu"
           for r in runs):
        return 1
    return available_cores()


def validate_runs(runs) -> None:
    """Check every train run as ``rnnrank train`` would, before any starts (cheap: no training).

    Raises:
        ValueError: ``run <name>: <what rnnrank train says>`` for the first bad run.
    """
    from .ensemble_train import validate

    checked: set[str] = set()
    for run in runs:
        if run.kind != "train":
            continue
        key = repr(sorted((k, repr(v)) for k, v in run.options.items() if k != "seed"))
        if key in checked:
            continue  # runs that differ only in seed build the same way
        try:
            validate(run.options)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"run {run.name}: {exc}") from None
        checked.add(key)


def _progress(enabled: bool, total: int, done: int, name: str):
    if not enabled:
        return nullcontext(lambda results: None)
    return _RichProgress(total, done, name)


class _RichProgress:
    """``sweep ━━━━ 7/12 runs  1 failed  0:01:10``: advanced by each job's results."""

    def __init__(self, total: int, done: int, name: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TextColumn("runs  {task.fields[failed]} failed"),
                            TimeElapsedColumn())
        self.task = self.bar.add_task(name, total=total, completed=done, failed=0)
        self.failed = 0

    def __enter__(self):
        self.bar.__enter__()
        return self.advance

    def advance(self, results: list[dict]) -> None:
        self.failed += sum(r["status"] not in ("completed",) for r in results)
        self.bar.update(self.task, advance=len(results), failed=self.failed)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)
